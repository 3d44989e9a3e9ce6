"""A person's word on rows in doubt: what they found at the vendor, told to the ledger.

None of the five vendors offers a lookup, so only a person can tell whether a row whose answer
was lost was stored. Rows found **there** become ``created`` (with the vendor's id, if given);
rows found **missing** become ``planned`` again, and the next run sends them, and only them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from importer.ledger.interface import Ledger
from importer.lifecycle import InvalidMove, Known, Reason, State, settle_by_person

IN_DOUBT = (State.UNKNOWN, State.SENDING)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a person found at the vendor for one row of a run."""

    source_row: int
    found: bool
    vendor_id: str | None = None


@dataclass(slots=True)
class Settled:
    """What became of a person's findings."""

    there: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    """Rows a person had already settled the same way (the same file passed twice)."""
    refused: dict[int, str] = field(default_factory=dict)
    """Rows that could not be settled, with why (not in doubt, not in the run)."""


def settle_rows(ledger: Ledger, run_id: str, findings: Sequence[Finding]) -> Settled:
    """Record a person's findings for rows of ``run_id``, all in one transaction.

    A row is settled only while it is in doubt (``unknown``, or ``sending`` left by a run that
    died); any other row is refused with its current state, and nothing of it changes.
    """
    keys = {row.outcome.source_row: row.row_key for row in ledger.run_rows(run_id)}
    known = ledger.known([key for key in keys.values() if key])
    settled = Settled()
    entries: list[Known] = []
    for finding in findings:
        key = keys.get(finding.source_row)
        entry = known.get(key) if key else None
        if entry is None:
            why = "not in this run" if finding.source_row not in keys else "never sent"
            settled.refused[finding.source_row] = why
            continue
        if _same_word(entry, finding):
            settled.already.append(finding.source_row)
            continue
        if entry.state not in IN_DOUBT:
            settled.refused[finding.source_row] = f"not in doubt: the ledger says {entry.state}"
            continue
        try:
            entries.append(
                settle_by_person(entry, found=finding.found, vendor_id=finding.vendor_id)
            )
        except InvalidMove as error:  # pragma: no cover - IN_DOUBT rows always move
            settled.refused[finding.source_row] = str(error)
            continue
        (settled.there if finding.found else settled.missing).append(finding.source_row)
    ledger.keep(entries)
    return settled


def _same_word(entry: Known, finding: Finding) -> bool:
    """Return whether a person already settled this row as the finding says."""
    if finding.found:
        return entry.state is State.CREATED and entry.reason is Reason.FOUND_BY_PERSON
    return entry.state is State.PLANNED and entry.reason is Reason.MISSING_AT_VENDOR
