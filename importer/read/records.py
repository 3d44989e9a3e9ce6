"""The numbered records both readers yield, and the data records below a sheet's header.

Both readers yield every record of a sheet with the row number a spreadsheet app shows for it;
``header`` finds the header among them, and ``columns`` turns the records below it into data
rows, the same way for both kinds. A record the reader could not take as it stands (a
cell over the length limit) comes as a ``BrokenRecord``: its row fails with the message, and
reading goes on.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from importer.errors import InputError

__all__ = [
    "BrokenRecord",
    "NoHeaderError",
    "Records",
    "column_letter",
    "is_blank",
]


class NoHeaderError(InputError):
    """Raised when a sheet holds only blank rows, so it has no header row."""


@dataclass(frozen=True, slots=True)
class BrokenRecord:
    """A record that cannot be imported as it stands; its row fails with ``message``.

    Attributes:
        message: Why, for a person, a clause to follow "row": "has a cell of more than ...",
            with the limit and the option that raises it.
        cells: What could be kept of the row's cells, for the report; may be empty.
    """

    message: str
    cells: list[str] = field(default_factory=list)


Records = Generator[tuple[int, list[str] | BrokenRecord], None, None]
"""Every record of a sheet with its row number, header and blank rows included."""


def column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def is_blank(cells: Sequence[str] | BrokenRecord) -> bool:
    """Return whether every cell is empty or whitespace (a broken record never is)."""
    return not isinstance(cells, BrokenRecord) and not "".join(cells).strip()
