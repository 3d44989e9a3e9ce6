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
    """Build the request body of every row of a validated, mapped chunk."""
    specs = [contract.field(path) for path in frame.columns]
    records = []
    for source_row, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        body: dict[str, Any] = {}
        for spec, value in zip(specs, values, strict=True):
            if value is not None:
                _put(body, spec.path, convert(value, spec))
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
