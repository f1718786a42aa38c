"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class UserError(Exception):
    """A failure the user caused and can fix; the message says what to do."""


class ToolError(UserError):
    """An external tool (dp, lmp) failed; the message names the log to read."""
