"""The report's own columns: named so they never share a name with a sheet's, and known again.

rows.csv puts ``source_row, status, reason, message, http_status, vendor_id, attempts`` before
the sheet's columns. A sheet that has a column of one of those names (a CRM's ``Status``, a web
form's ``Message``) gets the report's column as ``importer_status``, ``importer_message``...
instead, so no file has two columns of one name. The to-fix files add ``importer_row``,
``importer_reason`` and ``importer_message`` after the sheet's columns, which stay as they were.

A sheet that comes back (a fixed to_fix.csv, a rows.csv, an unknown.csv) is known by these
columns: ``tool_columns`` names them, and the pipeline leaves them out of the import and strips
the safety quote that ``cells.neutralize`` put before its values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from importer.lifecycle import SOURCE_ROW

__all__ = [
    "REPORT_COLUMNS",
    "TO_FIX_COLUMNS",
    "UNKNOWN_COLUMNS",
    "report_columns",
    "tool_columns",
]

REPORT_COLUMNS = (SOURCE_ROW, "status", "reason", "message", "http_status", "vendor_id", "attempts")
"""The columns rows.csv puts before the sheet's own columns (renamed where a sheet's clash)."""

UNKNOWN_COLUMNS = ("found", "vendor_id", "run_id", SOURCE_ROW, "message")
"""The columns unknown.csv puts before the sheet's own: a person fills ``found``."""

PREFIX = "importer_"
TO_FIX_COLUMNS = (f"{PREFIX}row", f"{PREFIX}reason", f"{PREFIX}message")
"""The columns the to-fix files put after the sheet's own."""

_OWN = re.compile(
    rf"{PREFIX}(?:row|status|reason|message|http_status|vendor_id|attempts|{SOURCE_ROW})(?:_\d+)?",
    re.IGNORECASE,
)


def report_columns(
    sheet_columns: Sequence[str], names: Sequence[str] = REPORT_COLUMNS
) -> list[str]:
    """Return the report's column names, each renamed where the sheet has one like it.

    Names are compared case-insensitively, as a person reading the file would.
    """
    taken = {column.casefold() for column in sheet_columns}
    chosen = []
    for name in names:
        candidate = name
        if candidate.casefold() in taken:
            candidate = name if name.startswith(PREFIX) else f"{PREFIX}{name}"
            number = 2
            base = candidate
            while candidate.casefold() in taken:
                candidate = f"{base}_{number}"
                number += 1
        taken.add(candidate.casefold())
        chosen.append(candidate)
    return chosen


def tool_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """Return the columns of a sheet that an earlier run of the tool wrote into it.

    They are the ``importer_*`` columns, and the leading report columns of a rows.csv or an
    unknown.csv given back as a sheet.
    """
    own = [column for column in columns if _OWN.fullmatch(column.strip())]
    for names in (REPORT_COLUMNS, UNKNOWN_COLUMNS):
        lead = columns[: len(names)]
        if len(lead) == len(names) and all(
            column.strip().casefold() in (name, f"{PREFIX}{name}")
            for column, name in zip(lead, names, strict=True)
        ):
            own.extend(column for column in lead if column not in own)
    return tuple(column for column in columns if column in own)
