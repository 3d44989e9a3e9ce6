"""Make cell values safe to open: defused against CSV injection (OWASP)."""

from __future__ import annotations

import pandas as pd

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: str) -> str:
    """Prefix a value a spreadsheet app would run as a formula with a single quote.

    Args:
        value: A cell value as it will be written.

    Returns:
        The value, with a leading ``'`` if it starts with ``= + - @``, tab or carriage return.
    """
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


def csv_text(value: object) -> str:
    """Return a sheet value as defused text; a missing value becomes empty."""
    if isinstance(value, str):
        return neutralize(value)
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return ""
    return neutralize(str(value))
