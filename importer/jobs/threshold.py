"""A failure threshold: how many failed rows a scheduled import tolerates before it alerts.

Written ``"5%"`` (a share of the sheet's data rows) or ``10`` (a row count). The share is of
every data row the sheet holds, so the same sheet gives the same verdict every night; with a
cumulative export that grows every day, a row count says more than a share.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from importer.report.totals import Totals

_SHARE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


class ThresholdError(ValueError):
    """Raised when a threshold is neither a row count nor a percentage from 0% to 100%."""


@dataclass(frozen=True, slots=True)
class FailureThreshold:
    """Alert when more rows failed than this: a count of rows, or a percent of the sheet's."""

    rows: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, value: object) -> FailureThreshold:
        """Read ``10``, ``"10"`` (rows) or ``"5%"``, ``"2.5%"`` (a share).

        Raises:
            ThresholdError: for anything else, or a negative count, or a share over 100%.
        """
        if isinstance(value, bool):
            raise ThresholdError("a threshold is a row count such as 10 or a share such as 5%")
        if isinstance(value, int):
            if value < 0:
                raise ThresholdError("a threshold of rows cannot be negative")
            return cls(rows=value)
        text = str(value)
        if text.strip().isdigit():
            return cls(rows=int(text))
        share = _SHARE.fullmatch(text)
        if share is None:
            raise ThresholdError("a threshold is a row count such as 10 or a share such as 5%")
        percent = float(share.group(1))
        if not math.isfinite(percent) or percent > 100:
            raise ThresholdError("a threshold share is from 0% to 100%")
        return cls(percent=percent)

    def __str__(self) -> str:
        """Write the threshold back as a person wrote it: ``5%`` or ``10 rows``."""
        if self.percent is not None:
            return f"{self.percent:g}%"
        return f"{self.rows} rows"

    def crossed(self, totals: Totals) -> str | None:
        """Return why the failed rows of ``totals`` are over the threshold, or None if not."""
        if self.rows is not None and totals.failed > self.rows:
            rows = "row" if totals.failed == 1 else "rows"
            return f"{totals.failed} {rows} failed, more than {self.rows}"
        if self.percent is None or not totals.rows:
            return None
        if totals.failed * 100 > self.percent * totals.rows:
            share = totals.failed * 100 / totals.rows
            return (
                f"{totals.failed} of {totals.rows} rows failed ({share:.1f}%), "
                f"more than {self.percent:g}%"
            )
        return None
