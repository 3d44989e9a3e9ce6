"""The limits that keep reading a file from putting the machine at risk, and their defaults.

Every limit, when a file exceeds it, gives a one-line ``InputError`` naming the file, the row
where it applies, the limit, and the ``importer run`` option that raises it (``FLAGS``).

The defaults keep the peak memory of a run under about 500 MB on any file, measured on this
machine: a CSV file is streamed, so only its longest row counts; a workbook is loaded whole by
calamine, about 86 bytes per cell of its used range plus its text, so its used range and its
unzipped size are bounded, and a zip bomb is refused from the archive's directory alone.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FLAGS", "MIB", "ReadLimits", "over", "size"]

MIB = 1024 * 1024
"""One mebibyte: the unit of the options given in MB."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadLimits:
    """How big a file, a workbook archive, a sheet, a row and a cell may be.

    Attributes:
        max_file_bytes: The largest file read at all (2 GiB).
        max_zip_entries: The most files inside a workbook archive (10,000; the largest real
            workbook in the test corpora holds 1,033).
        max_unzipped_bytes: The most bytes a workbook archive may unpack to, all its entries
            together, as its directory declares them (256 MiB; calamine holds a sheet in
            memory, about twice its XML).
        max_zip_ratio: The most an entry of 1 MiB or more unpacked may have been compressed
            (100 to 1; real workbooks stay under 60, a zip bomb is in the thousands).
        zip_ratio_floor_bytes: Entries smaller than this unpacked are not judged by their
            ratio (1 MiB): a small file compresses well and harms no one.
        max_sheet_cells: The most cells in a workbook sheet's used range, rows times columns
            from A1 to its farthest cell (3,000,000, about 260 MB once loaded): calamine
            allocates every cell of that range, so one far cell in a tiny file could ask for
            gigabytes.
        max_rows: The highest row number read (10,000,000).
        max_columns: The most columns a header may have (100,000; wider than Excel's 16,384,
            which only the workbook report cannot hold).
        max_cell_chars: The most characters in one cell (1,000,000; also the CSV field size).
        max_row_chars: The most characters in one CSV record, the most a line may buffer
            (10,000,000).
    """

    max_file_bytes: int = 2048 * MIB
    max_zip_entries: int = 10_000
    max_unzipped_bytes: int = 256 * MIB
    max_zip_ratio: int = 100
    zip_ratio_floor_bytes: int = 1 * MIB
    max_sheet_cells: int = 3_000_000
    max_rows: int = 10_000_000
    max_columns: int = 100_000
    max_cell_chars: int = 1_000_000
    max_row_chars: int = 10_000_000

    def __post_init__(self) -> None:
        """Refuse a limit below one.

        Raises:
            ValueError: naming the limit.
        """
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


FLAGS = {
    "max_file_bytes": "--max-file-mb",
    "max_unzipped_bytes": "--max-unzipped-mb",
    "max_zip_ratio": "--max-zip-ratio",
    "max_sheet_cells": "--max-sheet-cells",
    "max_rows": "--max-rows",
    "max_columns": "--max-columns",
    "max_cell_chars": "--max-cell-chars",
    "max_row_chars": "--max-row-chars",
}
"""The ``importer run`` option that raises each limit a user may need to raise."""


def size(count: int) -> str:
    """Return a byte count for a person: "512 bytes", "3.5 MiB", "2 GiB"."""
    for unit, scale in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{count:,} bytes"


def over(count: int, limit: int) -> str:
    """Return "3.5 MiB, more than the limit of 2 MiB", in bytes when rounding hides the gap."""
    shown, most = size(count), size(limit)
    if shown == most:
        shown, most = f"{count:,} bytes", f"{limit:,} bytes"
    return f"{shown}, more than the limit of {most}"
