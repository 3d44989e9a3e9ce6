"""Read a CSV file, once its encoding and delimiter are known, as numbered records.

A record that spans lines (a quoted line break) is one row; NUL characters are dropped.
"""

from __future__ import annotations

import csv
from contextlib import closing
from pathlib import Path

from importer.errors import InputError
from importer.read.records import Records, header_columns

__all__ = ["csv_header", "csv_records"]


def csv_header(path: Path, encoding: str, delimiter: str) -> tuple[str, ...]:
    """Return the unique column names of a CSV file's header row."""
    with closing(csv_records(path, encoding, delimiter)) as records:
        return header_columns(records, path)


def csv_records(path: Path, encoding: str, delimiter: str) -> Records:
    """Yield each CSV record with its row number; a record spanning lines is one row."""
    number = 0
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as text:
            lines = (line.replace("\x00", "") for line in text)
            for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
                yield number, cells
    except csv.Error as error:
        raise InputError(
            f"{path}: row {number + 1} cannot be parsed ({error}); check it for a quote that"
            " is never closed"
        ) from error
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from error
