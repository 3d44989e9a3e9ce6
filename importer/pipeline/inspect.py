"""Preview an import without touching the network: what it would send, and what would fail.

``inspect_sheet`` takes a sheet through read, map, validate and dedupe exactly as a run does,
but sends nothing, writes nothing and opens no ledger. It says how each column maps and why,
which columns would be left unused and what they hold, which required fields have no column,
which values of an enum field the vendor would refuse (and how often), the first rows as the
vendor would receive them, and how many rows would end in each status.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from importer.config import RunConfig
from importer.contracts.contract import Contract
from importer.dedupe import Deduper
from importer.errors import InputError
from importer.lifecycle import Reason, RowOutcome, State
from importer.mapping import (
    MappingPlan,
    hold_back_misfits,
    sheet_cells,
)
from importer.mapping.file import FieldRule, mapping_file_text
from importer.mapping.plan import field_values
from importer.payload import build_records
from importer.pipeline.run import check_chunk, plan_import
from importer.read import Sheet
from importer.validate import build_schema

__all__ = ["Inspection", "inspect_sheet"]

SAMPLE_VALUES = 3
"""Distinct values shown for each column."""

SAMPLE_SCAN_ROWS = 100
"""Rows looked at for those values."""

TOP = 10
"""Reasons and refused values shown, the most frequent first."""


@dataclass(slots=True)
class Inspection:
    """What an import of a sheet would do, found without sending anything."""

    vendor: str
    sheet: Sheet
    plan: MappingPlan
    rows: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    """Predicted status -> rows: ``failed``, ``duplicate`` and ``to send``."""
    reasons: Counter[str] = field(default_factory=Counter)
    """Why rows would fail, worded without their values -> rows."""
    refused_values: dict[str, Counter[str]] = field(default_factory=dict)
    """Enum field -> the values its column holds that the vendor does not take -> rows."""
    samples: dict[str, list[str]] = field(default_factory=dict)
    """Column -> its first distinct non-empty values."""
    preview: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """The first rows that would be sent: (row number, request body)."""
    stopped: str | None = None
    """Why reading stopped before the end of the file, if it did."""

    def used_by(self) -> dict[str, str]:
        """Return column -> what becomes of it (a field, a fallback, unused, left out...)."""
        fate = dict.fromkeys(self.sheet.columns, "unused")
        for path, cols in self.plan.columns.items():
            fate.update(dict.fromkeys(cols, path))
        for path, cols in self.plan.fallbacks.items():
            fate.update(dict.fromkeys(cols, f"{path} (where empty)"))
        fate.update({column: path for path, column in self.plan.extras.items()})
        fate.update(dict.fromkeys(self.plan.ignored, "left out by the mapping file"))
        fate.update(dict.fromkeys(self.plan.tool_columns, "left out: the importer's own column"))
        for path, cols in self.plan.held_back_columns.items():
            fate.update(dict.fromkeys(cols, f"held back from {path}"))
        return fate

    def empty_fields(self, contract: Contract) -> list[str]:
        """Return the vendor's fields that nothing fills, each with the values it takes."""
        filled = {*self.plan.columns, *self.plan.constants, *self.plan.missing_required}
        return [
            spec.path + (f" (one of {'|'.join(spec.enum)})" if spec.enum else "")
            for spec in contract.fields
            if spec.path not in filled
        ]

    def mapping_file(self, contract: Contract) -> str:
        """Return the plan as a mapping file for the user to edit and pass to ``--mapping``."""
        rules: dict[str, FieldRule] = {}
        why = dict(self.plan.why)
        held = self.plan.held_back_columns
        for spec in contract.fields:
            cols = self.plan.columns.get(spec.path) or held.get(spec.path, ())
            refused = self.refused_values.get(spec.path, Counter())
            values = {
                value: self.plan.values.get(spec.path, {}).get(value.casefold())
                for value, _ in refused.most_common()
            }
            if spec.path in held:
                why[spec.path] = f"held back: map its values below to {'|'.join(spec.enum or ())}"
            elif refused:
                why[spec.path] += f"; map its values to {'|'.join(spec.enum or ())}"
            if cols or spec.path in self.plan.missing_required:
                rules[spec.path] = FieldRule(cols, self.plan.fallbacks.get(spec.path, ()), values)
            if spec.path in self.plan.missing_required:
                why[spec.path] = "REQUIRED: no column found; name the column that holds it"
        unused = [column for column, fate in self.used_by().items() if fate == "unused"]
        comments = [f"Columns not used: {', '.join(unused)}."] if unused else []
        empty = self.empty_fields(contract)
        if empty:
            comments.append(f"Fields no column fills: {'; '.join(empty)}.")
        return mapping_file_text(
            contract.id, rules, why=why, ignore=self.plan.ignored, comments=comments
        )


def inspect_sheet(config: RunConfig, *, preview_rows: int = 5) -> Inspection:
    """Read, map, validate and dedupe the whole sheet as a run would, sending nothing.

    Raises:
        ImporterError: when the vendor, the file or the mapping file is unusable (a required
            field without a column is not an error here: ``plan.missing_required`` names it).
    """
    contract, sheet, plan = plan_import(config, require=False)
    schema = build_schema(contract)
    deduper = Deduper.for_contract(contract)
    found = Inspection(contract.id, sheet, plan)
    found.statuses.update(dict.fromkeys(("failed", "duplicate", "to send"), 0))
    header_plan = plan
    try:
        for index, read in enumerate(sheet.chunks(config.chunk_rows)):
            frame = sheet_cells(read.frame, plan)
            if index == 0:
                plan = found.plan = hold_back_misfits(plan, frame, contract)
                found.samples = _samples(frame)
            found.rows += len(frame)
            _tally_refused(found, frame, header_plan, contract)
            chunk = replace(read, frame=frame)
            outcomes, kept = check_chunk(chunk, plan, contract, schema, deduper)
            _tally(found, outcomes.values())
            found.statuses["to send"] += len(kept)
            if len(found.preview) < preview_rows:
                records = build_records(kept.head(preview_rows), contract)
                found.preview += [(record.source_row, record.body) for record in records]
                del found.preview[preview_rows:]
    except InputError as error:
        if not found.rows:
            raise
        found.stopped = str(error)
    finally:
        deduper.close()
    return found


def _tally(found: Inspection, outcomes: Iterable[RowOutcome]) -> None:
    """Count the rows a run would settle without sending them, and why each would fail."""
    for outcome in outcomes:
        if outcome.state is State.DUPLICATE:
            found.statuses["duplicate"] += 1
            continue
        found.statuses["failed"] += 1
        if outcome.reason is Reason.VALIDATION:
            for part in outcome.message.split("; "):
                found.reasons[_without_value(part)] += 1
        else:
            found.reasons[outcome.reason.value] += 1


def _without_value(message: str) -> str:
    """Return a validation message without the value it quotes, so like reasons add up."""
    return re.sub(r"\s*\((?:got |').*$", "", message)


def _tally_refused(
    found: Inspection, frame: pd.DataFrame, plan: MappingPlan, contract: Contract
) -> None:
    """Count, per enum field, the values its column holds that the vendor does not take."""
    for path in plan.columns:
        spec = contract.field(path)
        if not spec.enum:
            continue
        values = field_values(frame, plan, contract, path).dropna()
        refused = values[~values.isin(spec.enum)]
        if len(refused):
            found.refused_values.setdefault(path, Counter()).update(refused.tolist())


def _samples(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Return each column's first distinct non-empty values among the first rows.

    Plain Python over a small block: a sheet may have 16,000 columns, and a pandas operation
    per column would cost a minute.
    """
    block = frame.head(SAMPLE_SCAN_ROWS).to_numpy(dtype=object)
    samples = {}
    for index, column in enumerate(frame.columns):
        seen: dict[str, None] = {}
        for value in block[:, index]:
            text = str(value).strip()
            if text:
                seen[text] = None
                if len(seen) == SAMPLE_VALUES:
                    break
        samples[column] = list(seen)
    return samples
