"""The validate stage: a pandera schema derived from the vendor contract, run lazily.

``build_schema`` is the one builder that turns any contract into a pandera schema; no vendor
has hand-written pandera code. Every bad row gets every reason at once: field, rule and value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

from importer.contracts.contract import (
    FALSE_WORDS,
    TRUE_WORDS,
    Contract,
    FieldSpec,
    split_list,
    split_slots,
)
from importer.mapping.normalize import arrow_text

EMAIL_RULE = "is not a valid email address"
PLAIN_EMAIL_PATTERN = (
    r"(?=[^@]{1,64}@)(?=.{1,254}\Z)"  # RFC 5321: local part at most 64, address at most 254
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:(?=[A-Za-z0-9-]{1,63}\.)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+"
    r"(?!(?i:arpa|invalid|local|localhost|onion|test)\Z)[A-Za-z]{2,63}"
)
"""Plain addresses that email-validator accepts too: an ASCII dot-atom before the @, labels of
letters and digits joined by single hyphens (so no Punycode) after it, and a TLD of letters that
is not a special-use name. Anything else is left to email-validator, which has the last word."""
URL_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+\S*$"
INTEGER_PATTERN = r"^[+-]?\d+$"
NUMBER_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


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


def valid_emails(values: pd.Series) -> pd.Series:
    """Return which values are valid email addresses, as ``email_problem`` would answer.

    Arrow clears the plain addresses of the whole column at once (``plain_emails``); only the
    others (unusual, international or bad) go through email-validator one by one. A missing
    value passes: whether the field is required is another rule.
    """
    missing = values.isna().to_numpy()
    passed = plain_emails(arrow_text(values)).to_numpy(zero_copy_only=False)
    passed |= missing
    rest = np.flatnonzero(~passed)
    passed[rest] = [email_problem(text) is None for text in values.iloc[rest].tolist()]
    return pd.Series(passed, index=values.index, dtype=bool)


def plain_emails(text: pyarrow.Array) -> pyarrow.Array:
    """Return which values ``PLAIN_EMAIL_PATTERN`` matches whole, computed by Arrow (RE2).

    RE2 has no lookarounds, so the pattern's limits are tests of their own: the local part at
    most 64 characters, each domain label at most 63, the address at most 254, and a TLD that
    is not a special-use name.
    """
    length = pc.utf8_length(text)
    fits = pc.and_(
        pc.less_equal(length, 254),
        pc.less_equal(pc.find_substring(text, "@"), 64),  # the local part: before the first @
    )
    plain = pc.and_(pc.match_substring_regex(text, _PLAIN_SHAPE), fits)
    # A label of 64 needs an address of 66 characters: only such long ones are searched.
    long = pc.greater(length, 65)
    if pc.any(long).as_py():
        labels = pc.match_substring_regex(text, r"[@.][A-Za-z0-9-]{64}")
        plain = pc.and_(plain, pc.invert(pc.and_(long, labels)))
    # The TLD is in the last 10 characters when it is a special-use name (".localhost").
    tail = pc.utf8_slice_codeunits(text, -10)
    special = pc.match_substring_regex(tail, r"\.(?i:arpa|invalid|local|localhost|onion|test)$")
    return pc.and_(plain, pc.invert(special))


_PLAIN_SHAPE = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]{2,63}$"
)


def is_email_field(spec: FieldSpec) -> bool:
    """Return whether the field holds an email address (declared format or concept)."""
    return spec.format == "email" or spec.concept == "email"


def build_schema(contract: Contract) -> pa.DataFrameSchema:
    """Derive the pandera schema of a contract's fields (columns are dotted field paths).

    A field of an array of objects (``contacts[].email``) holds the items' values in one cell,
    separated by ``;`` or ``|``: its rules apply to every value, and every item must have the
    fields its object requires.
    """
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
    return pa.DataFrameSchema(
        columns, checks=_array_checks(contract), strict=False, name=contract.id
    )


def validate_chunk(mapped: pd.DataFrame, schema: pa.DataFrameSchema) -> Validated:
    """Validate a mapped chunk lazily and split it into valid rows and reasons per failed row.

    Every rule of the schema is run on the whole chunk: each column's ``nullable`` and its
    checks (through pandera's own ``Check`` call, which leaves missing values out), then the
    schema's checks of whole rows. pandera's ``validate(lazy=True)`` would give the same
    verdicts, but it builds a frame of failure cases through several copies of the chunk, which
    cost more than the checks themselves; here only the failed rows are put into words.
    """
    found = _Failures(mapped.index)
    for path, column in schema.columns.items():
        if path not in mapped:  # every column is optional in the frame (required=False)
            continue
        values = mapped[path]
        if not column.nullable:
            found.add(values.isna().to_numpy(), f"{path} is required")
        for check in column.checks:
            passed = check(values).check_output
            failing = passed.index[~passed.to_numpy(dtype=bool)]
            found.add_rows(failing, values, path, str(check.error))
    for check in schema.checks:  # whole rows: the words name their own fields
        passed = check(mapped).check_output.reindex(mapped.index, fill_value=True)
        found.add(~passed.to_numpy(dtype=bool), str(check.error))
    failures = found.messages()
    if not failures:
        return Validated(mapped, {})
    return Validated(mapped[~found.failed], failures)


class _Failures:
    """The reasons found so far for a chunk's rows, in the order the rules ran."""

    def __init__(self, index: pd.Index) -> None:
        self._index = index
        self.failed = np.zeros(len(index), dtype=bool)
        self._reasons: list[tuple[npt.NDArray[np.intp], list[str]]] = []

    def add(self, mask: npt.NDArray[np.bool_], reason: str) -> None:
        """Give every row in ``mask`` the same reason."""
        positions = np.flatnonzero(mask)
        if len(positions):
            self.failed[positions] = True
            self._reasons.append((positions, [reason] * len(positions)))

    def add_rows(self, rows: pd.Index, values: pd.Series, path: str, rule: str) -> None:
        """Give each of ``rows`` (index labels) the reason that its value breaks ``rule``."""
        if not len(rows):
            return
        positions = self._index.get_indexer(rows)
        self.failed[positions] = True
        cells = values.iloc[positions].tolist()
        self._reasons.append((positions, [_reason(path, rule, cell) for cell in cells]))

    def messages(self) -> dict[int, str]:
        """Return each failed row's reasons, joined with ``; ``, each reason once."""
        reasons: dict[int, dict[str, None]] = {}
        rows = self._index.to_numpy()
        for positions, words in self._reasons:
            for row, reason in zip(rows[positions].tolist(), words, strict=True):
                reasons.setdefault(row, {})[reason] = None
        return {row: "; ".join(parts) for row, parts in sorted(reasons.items())}


Rule = tuple[Callable[[pd.Series], pd.Series], str]
"""A vectorised test of text values, and how to say it to a person."""


def _checks(spec: FieldSpec) -> list[pa.Check]:
    checks: list[pa.Check] = []
    for factory in _RULE_FACTORIES:
        rule = factory(spec)
        if rule is None:
            continue
        test, words = rule
        checks.append(pa.Check(_each_item(test) if spec.array else test, error=words))
    return checks


def _each_item(test: Callable[[pd.Series], pd.Series]) -> Callable[[pd.Series], pd.Series]:
    """Apply a test to every value of list cells; a cell passes when all its values do."""

    def check(cells: pd.Series) -> pd.Series:
        values = cells.map(split_list).explode().dropna()
        passed = test(values.astype(str)).astype(bool)
        return passed.groupby(level=0).all().reindex(cells.index, fill_value=True)

    return check


def _length_rule(spec: FieldSpec) -> Rule | None:
    if spec.type != "string" or (spec.min_length is None and spec.max_length is None):
        return None
    low, high = spec.min_length, spec.max_length
    if low is not None and high is not None:
        words = f"must be {low} to {high} characters long"
    elif low is not None:
        words = f"must be at least {low} characters long"
    else:
        words = f"must be at most {high} characters long"
    lowest, highest = low or 0, high if high is not None else float("inf")
    return (lambda values: values.str.len().between(lowest, highest)), words


def _enum_rule(spec: FieldSpec) -> Rule | None:
    if not spec.enum:
        return None
    allowed = list(spec.enum)
    return (lambda values: values.isin(allowed)), f"must be one of: {', '.join(allowed)}"


def _pattern_rule(spec: FieldSpec) -> Rule | None:
    if not spec.pattern:
        return None
    pattern = re.compile(spec.pattern)
    words = spec.pattern_words or f"must match the pattern {spec.pattern}"
    # JSON Schema's "pattern" matches anywhere in the value, as re.search does.
    return (lambda values: values.map(lambda text: pattern.search(text) is not None)), words


def _format_rule(spec: FieldSpec) -> Rule | None:
    if is_email_field(spec):
        return valid_emails, EMAIL_RULE
    if spec.format in {"uri", "url"}:
        words = "must be a URL with its protocol (https://...)"
        return (lambda values: values.str.match(URL_PATTERN)), words
    return None


def _type_rule(spec: FieldSpec) -> Rule | None:
    if spec.type == "integer":
        return (lambda values: values.str.match(INTEGER_PATTERN)), "must be a whole number"
    if spec.type == "number":
        return (lambda values: values.str.match(NUMBER_PATTERN)), "must be a number"
    if spec.type == "boolean":
        allowed = list(TRUE_WORDS | FALSE_WORDS)
        return (lambda values: values.str.lower().isin(allowed)), "must be true or false"
    return None


_RULE_FACTORIES: tuple[Callable[[FieldSpec], Rule | None], ...] = (
    _type_rule,
    _length_rule,
    _enum_rule,
    _pattern_rule,
    _format_rule,
)


def _array_checks(contract: Contract) -> list[pa.Check]:
    """Check that every item of an array of objects has the fields its object requires."""
    arrays: dict[str, list[FieldSpec]] = {}
    for spec in contract.fields:
        if spec.array:
            arrays.setdefault(spec.array, []).append(spec)
    checks = []
    for array, specs in arrays.items():
        needed = [spec.path for spec in specs if spec.required_in_item]
        if len(specs) < 2 or not needed:
            continue
        words = (
            f"{array}: every item needs {', '.join(needed)} (list as many of each as the "
            f"longest {array} column)"
        )
        paths = [spec.path for spec in specs]
        checks.append(pa.Check(_items_complete(paths, needed), error=words, name=array))
    return checks


def _items_complete(paths: list[str], needed: list[str]) -> Callable[[pd.DataFrame], pd.Series]:
    def check(frame: pd.DataFrame) -> pd.Series:
        present = [path for path in paths if path in frame]
        slots = pd.DataFrame(
            {path: frame[path].map(_count_slots) for path in present}, index=frame.index
        )
        filled = pd.DataFrame(
            {path: frame[path].map(_count_filled) for path in present}, index=frame.index
        )
        longest = slots.max(axis=1) if present else pd.Series(0, index=frame.index)
        passed = pd.Series(True, index=frame.index)
        for path in needed:
            have = filled[path] if path in filled else pd.Series(0, index=frame.index)
            passed &= have == longest
        return passed

    return check


def _count_slots(cell: object) -> int:
    return len(split_slots(cell)) if isinstance(cell, str) else 0


def _count_filled(cell: object) -> int:
    return sum(1 for slot in split_slots(cell) if slot) if isinstance(cell, str) else 0


def _reason(column: str, rule: str, value: object) -> str:
    if rule == "not_nullable":
        return f"{column} is required"
    shown = _shorten(str(value))
    if rule == EMAIL_RULE:
        why = email_problem(str(value)) or ""
        return f"{column} {rule} ({shown!r}): {why}".rstrip(": ")
    if "characters long" in rule:
        return f"{column} {rule} (got {len(str(value))} characters: {shown!r})"
    return f"{column} {rule} (got {shown!r})"


def _shorten(text: str, limit: int = 60) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
