"""The validate stage: a pandera schema derived from the vendor contract, run lazily.

``build_schema`` is the one builder that turns any contract into a pandera schema; no vendor
has hand-written pandera code. Every bad row gets every reason at once: field, rule and value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from email_validator import EmailNotValidError, validate_email

from importer.contract import Contract, FieldSpec

EMAIL_RULE = "is not a valid email address"
URL_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+\S*$"
INTEGER_PATTERN = r"^[+-]?\d+$"
NUMBER_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
BOOLEAN_VALUES = ("true", "false", "yes", "no", "1", "0", "TRUE", "FALSE", "True", "False")


@dataclass(frozen=True, slots=True)
class Validated:
    """A chunk split into the rows that passed and, per failed row, every reason in words."""

    valid: pd.DataFrame
    failures: Mapping[int, str]


@functools.lru_cache(maxsize=65_536)
def email_problem(value: str) -> str | None:
    """Return why ``value`` is not a deliverable-looking email address, or None if it is fine.

    Syntax only: no DNS look-ups, so a run never depends on the network for validation.
    """
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def is_email_field(spec: FieldSpec) -> bool:
    """Return whether the field holds an email address (declared format or concept)."""
    return spec.format == "email" or spec.concept == "email"


def build_schema(contract: Contract) -> pa.DataFrameSchema:
    """Derive the pandera schema of a contract's fields (columns are dotted field paths)."""
    columns = {
        spec.path: pa.Column(
            None,
            nullable=not spec.required,
            required=False,
            checks=_checks(spec),
            title=spec.path,
        )
        for spec in contract.fields
    }
    return pa.DataFrameSchema(columns, strict=False, name=contract.id)


def validate_chunk(mapped: pd.DataFrame, schema: pa.DataFrameSchema) -> Validated:
    """Validate a mapped chunk lazily and split it into valid rows and reasons per failed row."""
    try:
        schema.validate(mapped, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = _messages(errors.failure_cases)
        return Validated(mapped.drop(index=list(failures)), failures)
    return Validated(mapped, {})


def _checks(spec: FieldSpec) -> list[pa.Check]:
    rules: list[pa.Check] = []
    for factory in _CHECK_FACTORIES:
        check = factory(spec)
        if check is not None:
            rules.append(check)
    return rules


def _length_check(spec: FieldSpec) -> pa.Check | None:
    if spec.type != "string" or (spec.min_length is None and spec.max_length is None):
        return None
    low, high = spec.min_length, spec.max_length
    if low is not None and high is not None:
        words = f"must be {low} to {high} characters long"
    elif low is not None:
        words = f"must be at least {low} characters long"
    else:
        words = f"must be at most {high} characters long"
    return pa.Check.str_length(low, high, error=words)


def _enum_check(spec: FieldSpec) -> pa.Check | None:
    if not spec.enum:
        return None
    return pa.Check.isin(list(spec.enum), error=f"must be one of: {', '.join(spec.enum)}")


def _pattern_check(spec: FieldSpec) -> pa.Check | None:
    if not spec.pattern:
        return None
    return pa.Check.str_contains(spec.pattern, error=f"must match the pattern {spec.pattern}")


def _format_check(spec: FieldSpec) -> pa.Check | None:
    if is_email_field(spec):
        return pa.Check(
            lambda value: email_problem(value) is None, element_wise=True, error=EMAIL_RULE
        )
    if spec.format in {"uri", "url"}:
        return pa.Check.str_matches(
            URL_PATTERN, error="must be a URL with its protocol (https://...)"
        )
    return None


def _type_check(spec: FieldSpec) -> pa.Check | None:
    if spec.type == "integer":
        return pa.Check.str_matches(INTEGER_PATTERN, error="must be a whole number")
    if spec.type == "number":
        return pa.Check.str_matches(NUMBER_PATTERN, error="must be a number")
    if spec.type == "boolean":
        return pa.Check.isin(list(BOOLEAN_VALUES), error="must be true or false")
    return None


_CHECK_FACTORIES: tuple[Callable[[FieldSpec], pa.Check | None], ...] = (
    _type_check,
    _length_check,
    _enum_check,
    _pattern_check,
    _format_check,
)


def _messages(failure_cases: pd.DataFrame) -> dict[int, str]:
    """Turn pandera's failure cases into one message per row, every reason included."""
    reasons: dict[int, list[str]] = {}
    cases = failure_cases[["index", "column", "check", "failure_case"]]
    for row, column, rule, value in cases.itertuples(index=False, name=None):
        if row is None or pd.isna(row):
            continue
        reasons.setdefault(int(row), []).append(_reason(str(column), str(rule), value))
    return {row: "; ".join(parts) for row, parts in reasons.items()}


def _reason(column: str, rule: str, value: object) -> str:
    if rule == "not_nullable":
        return f"{column} is required"
    shown = _shorten(str(value))
    if rule == EMAIL_RULE:
        why = email_problem(str(value)) or ""
        return f"{column} {rule} ({shown!r}): {why}".rstrip(": ")
    return f"{column} {rule} (got {shown!r})"


def _shorten(text: str, limit: int = 60) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
