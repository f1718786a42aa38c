"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class UserError(Exception):
    """A failure the user caused and can fix; the message says what to do."""


class ToolError(UserError):
    """An external tool (dp, lmp) failed; the message names the log to read."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception for a one-line message: its type and first line, cut at a word boundary, never mid-word."""
    text = (str(exc).strip().splitlines() or [""])[0]
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
