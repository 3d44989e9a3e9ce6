"""Turn validated flat rows (dotted field paths) into the JSON bodies a vendor expects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from importer.contract import Contract, FieldSpec

LIST_SEPARATORS = re.compile(r"\s*[;|]\s*")
TRUE_WORDS = frozenset({"true", "yes", "1"})


@dataclass(frozen=True, slots=True)
class Record:
    """One row ready to send: its source row and its request body."""

    source_row: int
    body: dict[str, Any]


def build_records(frame: pd.DataFrame, contract: Contract) -> list[Record]:
    """Build the request body of every row of a validated, mapped chunk.

    Columns that are not contract fields are extras bound for the vendor's open object; their
    key is the rest of the column name, dots and all.
    """
    known = {spec.path: spec for spec in contract.fields}
    records = []
    for source_row, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        body: dict[str, Any] = {}
        for path, value in zip(frame.columns, values, strict=True):
            if value is None:
                continue
            spec = known.get(path)
            if spec is not None:
                _put(body, path, convert(value, spec))
            elif contract.open_object and path.startswith(f"{contract.open_object}."):
                extra = body.setdefault(contract.open_object, {})
                extra[path.removeprefix(f"{contract.open_object}.")] = value
        records.append(Record(int(source_row), body))
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
        return [item for item in LIST_SEPARATORS.split(text) if item]
    return text


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
