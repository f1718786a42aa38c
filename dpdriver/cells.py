"""One table cell's text, shared by every table a user reads (status, validation, model card, report)."""

from __future__ import annotations

import math


def cell(value, fmt: str | None = None) -> str:
    """'-' for a value that is missing or not finite (never 'nan' in a table); else fmt, or 4 significant digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if fmt is not None:
        return fmt.format(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)
