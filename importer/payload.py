"""Turn validated flat rows (dotted field paths) into the JSON bodies a vendor expects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from importer.contracts.contract import (
    ITEMS,
    TRUE_WORDS,
    Contract,
    FieldSpec,
    split_list,
    split_slots,
)
from importer.lifecycle import resend_is_safe


@dataclass(frozen=True, slots=True)
class Record:
    """One row ready to send: its source row, its request body and how it may be re-sent."""

    source_row: int
    body: dict[str, Any]
    resend_safe: bool = False
    """The vendor detects a re-send of this very row as a duplicate (``lifecycle``)."""
    resent_doubt: bool = False
    """An earlier run's send of this row may have been stored (set by the ledger's triage)."""


def build_records(frame: pd.DataFrame, contract: Contract) -> list[Record]:
    """Build the request body of every row of a validated, mapped chunk.

    Columns that are not contract fields are extras bound for the vendor's open object; their
    key is the rest of the column name, dots and all. A field of an array of objects
    (``items[].offerId``) lists its items' values in one cell: the n-th value goes to the n-th
    item, so ``"a;b"`` becomes ``[{"offerId": "a"}, {"offerId": "b"}]``, and an empty slot
    (``"; b"``) leaves that item without the field rather than shifting ``b`` to the first.
    """
    known = {spec.path: spec for spec in contract.fields}
    frame = frame.astype(object).where(frame.notna(), None)  # missing values are left out
    records = []
    for source_row, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        body: dict[str, Any] = {}
        for path, value in zip(frame.columns, values, strict=True):
            if value is None:
                continue
            spec = known.get(path)
            if spec is not None and spec.array:
                _put_items(body, spec, split_slots(value))
            elif spec is not None:
                _put(body, path, convert(value, spec))
            elif contract.open_object and path.startswith(f"{contract.open_object}."):
                extra = body.setdefault(contract.open_object, {})
                extra[path.removeprefix(f"{contract.open_object}.")] = value
        safe = resend_is_safe(contract.duplicates_detected_by, body)
        records.append(Record(int(source_row), body, resend_safe=safe))
    return records


def convert(text: str, spec: FieldSpec) -> Any:
    """Convert validated text to the JSON type the field declares."""
    if spec.type == "integer":
        return int(text)
    if spec.type == "number":
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if spec.type == "boolean":
        return text.strip().lower() in TRUE_WORDS
    if spec.type == "array":
        return split_list(text)
    return text


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _put_items(body: dict[str, Any], spec: FieldSpec, values: list[str]) -> None:
    if not values:
        return
    array_path, _, leaf = spec.path.partition(f"{ITEMS}.")
    *parents, name = array_path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    items: list[dict[str, Any]] = node.setdefault(name, [])
    items.extend({} for _ in range(len(values) - len(items)))
    for item, value in zip(items, values, strict=False):
        if value:
            _put(item, leaf, convert(value, spec))
