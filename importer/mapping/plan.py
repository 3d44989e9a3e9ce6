"""Decide which source columns fill which vendor fields, and apply that plan to each chunk.

A plan is made once from the header row (mapping file, else exact names, else the headers that
common CRM exports use, see ``headers``), checked once against the first rows
(``hold_back_misfits``), and then applied to every chunk with vectorised pandas string
operations; the values it picks are brought to their normal form by ``normalize``.

Every column ends somewhere a person can see: filling a field (and why), filling it where
another is empty, left out by the mapping file, the tool's own report column, or unmapped, and
every run names the unmapped ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer.contracts.contract import Contract, FieldSpec
from importer.errors import ConfigError, MappingError
from importer.mapping.file import MappingFile
from importer.mapping.headers import (
    CONCEPT_ALIASES,
    FALLBACK_CONCEPTS,
    normalize_header,
    ranked_concept,
)
from importer.mapping.normalize import (
    TEXT,
    arrow_text,
    none_if_empty,
    normalize_text,
    normalize_values,
    text_series,
)
from importer.report.cells import strip_added_quotes
from importer.report.columns import tool_columns


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingPlan:
    """Which source columns fill which vendor fields, and why, decided once per sheet."""

    columns: Mapping[str, tuple[str, ...]]
    """Field path -> the source columns that fill it (several are joined with a space)."""
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field path -> columns whose value fills it where its own column is empty (Mobile)."""
    constants: Mapping[str, str] = field(default_factory=dict)
    extras: Mapping[str, str] = field(default_factory=dict)
    """Key in the vendor's open object -> the unmapped column sent there (on request only)."""
    extra_constants: Mapping[str, str] = field(default_factory=dict)
    """Key in the vendor's open object -> the ``--set`` value sent there on every row."""
    values: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    """Field path -> what a sheet value (trimmed, case-folded) is sent as, from the mapping file."""
    why: Mapping[str, str] = field(default_factory=dict)
    """Field path -> how its column was found, for a person."""
    unmapped: tuple[str, ...] = ()
    """Columns that fill nothing and were not left out on purpose: every run names them."""
    ignored: tuple[str, ...] = ()
    """Columns the mapping file leaves out on purpose."""
    tool_columns: tuple[str, ...] = ()
    """Columns an earlier run of the tool wrote (a fixed to_fix.csv given back): left out."""
    held_back: Mapping[str, str] = field(default_factory=dict)
    """Field path -> why the column its name matched was not used (values the vendor refuses)."""
    held_back_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field path -> the columns ``held_back`` speaks of."""
    notes: tuple[str, ...] = ()
    """What a person should know before the run, such as a --set on the dedupe key."""
    missing_required: tuple[str, ...] = ()
    """Required fields with neither a column nor a constant (a plan made without ``require``)."""

    def describe(self) -> dict[str, str]:
        """Return field -> where its value comes from, for the summary."""
        described = {path: " + ".join(cols) for path, cols in self.columns.items()}
        for path, cols in self.fallbacks.items():
            described[path] += "".join(f", else {column}" for column in cols)
        for path, value in {**self.constants, **self.extra_constants}.items():
            described[path] = f"--set {value!r}"
        described.update(self.extras)
        return described

    @property
    def used(self) -> frozenset[str]:
        """Return the columns whose values some field takes."""
        sources = [*self.columns.values(), *self.fallbacks.values(), self.extras.values()]
        return frozenset(column for cols in sources for column in cols)


MISFIT_SHARE = 0.5
"""Hold back a column from an optional enum field when more than this share of its values
in the first rows are values the vendor does not take (a CRM's "Source" of "Google Ads")."""

SAMPLE_ROWS = 1_000
"""How many first rows ``hold_back_misfits`` looks at."""


def plan_mapping(
    columns: Sequence[str],
    contract: Contract,
    *,
    explicit: MappingFile | Mapping[str, Sequence[str] | None] | None = None,
    constants: Mapping[str, str] | None = None,
    extras_to_open_object: bool = False,
    require: bool = True,
) -> MappingPlan:
    """Decide which column fills each field of the contract, and say why.

    With ``extras_to_open_object``, columns that fill no field are sent as text into the
    vendor's open object (``customFields``, ``custom_data``...), keyed by their header.

    Raises:
        ConfigError: when the mapping file or a constant names an unknown field or column.
        MappingError: when a required field has neither a column nor a constant (and
            ``require``; without it, ``missing_required`` names such fields).
    """
    rules = explicit if isinstance(explicit, MappingFile) else MappingFile.of(explicit or {})
    constants = dict(constants or {})
    extra_constants = {
        path: value for path, value in constants.items() if _in_open_object(path, contract)
    }
    constants = {path: value for path, value in constants.items() if path not in extra_constants}
    for path in constants:
        contract.field(path)
    own = tool_columns(columns)
    ignored = _checked_columns(columns, rules.ignore, "ignore")
    chosen = _explicit_columns(columns, contract, rules)
    why = dict.fromkeys(chosen, "mapping file")
    offered = [column for column in columns if column not in own and column not in ignored]
    # Names first, CRM aliases second: a column that names a field ("Contact Phone" of
    # contacts[].phone) is that field's, never another's by a generic alias ("phone").
    for by_concept in (False, True):
        claimed = {column for cols in chosen.values() for column in cols}
        free = [column for column in offered if column not in claimed]
        for spec in contract.fields:
            if spec.path in chosen or spec.path in constants:
                continue
            found, reason = _match(free, spec, by_concept=by_concept)
            if found:
                chosen[spec.path] = found
                why[spec.path] = reason
    chosen = {path: cols for path, cols in chosen.items() if cols and path not in constants}
    missing = _missing_required(contract, chosen, constants)
    if missing and require:
        raise MappingError(
            f"no column for required field(s) {', '.join(missing)} of {contract.id}: add a column "
            f"with that name, map one with --mapping, or give a constant with --set "
            f"{missing[0]}=VALUE"
        )
    fallbacks = _fallbacks(offered, contract, chosen, rules)
    for path, cols in fallbacks.items():
        why[path] = f"{why.get(path, 'mapping file')}; else {', '.join(cols)} where it is empty"
    used = {column for cols in [*chosen.values(), *fallbacks.values()] for column in cols}
    extras = _open_object_columns([c for c in offered if c not in used], contract)
    unmapped = tuple(c for c in offered if c not in used and c not in extras.values())
    if extras_to_open_object:
        if not contract.open_object:
            raise ConfigError(f"{contract.id} has no open object to send extra columns into")
        extras |= {f"{contract.open_object}.{column}": column for column in unmapped}
        unmapped = ()
    why |= dict.fromkeys(constants, "--set")
    return MappingPlan(
        columns=chosen,
        fallbacks=fallbacks,
        constants=constants,
        extras=extras,
        extra_constants=extra_constants,
        values={path: rule.values for path, rule in rules.fields.items() if rule.values},
        why={path: why[path] for path in [*chosen, *constants] if path in why},
        unmapped=unmapped,
        ignored=ignored,
        tool_columns=own,
        notes=_notes(contract, constants),
        missing_required=missing,
    )


def hold_back_misfits(plan: MappingPlan, frame: pd.DataFrame, contract: Contract) -> MappingPlan:
    """Leave out a column matched by name to an optional enum field whose values do not fit.

    A lead sheet's generic "Source" column ("Google Ads", "Referral") matches OfferGrid's
    optional ``source`` enum by name; sent, it would fail every row over a field the vendor
    does not need. When most of its values in the first rows are outside the vendor's list,
    the column is not used, and the plan says why and what to do (``held_back``). A column
    the mapping file names is always used: the user has spoken.

    Args:
        plan: The plan made from the header.
        frame: The first rows of the sheet (``SAMPLE_ROWS`` of them are looked at).
        contract: The vendor's contract.

    Returns:
        The plan, with such fields moved out of ``columns`` and their columns into
        ``unmapped``.
    """
    sample = frame.head(SAMPLE_ROWS)
    held: dict[str, str] = {}
    for path, cols in plan.columns.items():
        spec = contract.field(path)
        if not spec.enum or spec.required or plan.why.get(path) == "mapping file":
            continue
        values = field_values(sample, plan, contract, path).dropna()
        outside = values[~values.isin(spec.enum)]
        if len(values) and len(outside) > MISFIT_SHARE * len(values):
            held[path] = _misfit_message(path, cols, spec, sample, outside.index, len(values))
    if not held:
        return plan
    freed = tuple(column for path in held for column in plan.columns[path])
    return replace(
        plan,
        columns={path: cols for path, cols in plan.columns.items() if path not in held},
        fallbacks={path: cols for path, cols in plan.fallbacks.items() if path not in held},
        why={path: why for path, why in plan.why.items() if path not in held},
        unmapped=tuple(c for c in frame.columns if c in {*plan.unmapped, *freed}),
        held_back=held,
        held_back_columns={path: plan.columns[path] for path in held},
    )


def _misfit_message(  # noqa: PLR0917 (each argument is one fact of the message)
    path: str,
    cols: tuple[str, ...],
    spec: FieldSpec,
    sample: pd.DataFrame,
    outside: pd.Index,
    count: int,
) -> str:
    raw = normalize_text(_joined(sample.loc[outside], cols))
    common = ", ".join(f"{value!r} ({n})" for value, n in Counter(raw).most_common(3))
    allowed = "|".join(spec.enum or ())
    return (
        f"column {' + '.join(map(repr, cols))} was not sent as {path}: {len(outside)} of "
        f"{count} values in the first rows are not among {allowed} (e.g. {common}); to send "
        f"it, map its values in a mapping file (importer inspect --write-mapping FILE), or "
        f"give one value with --set {path}=VALUE"
    )


def sheet_cells(frame: pd.DataFrame, plan: MappingPlan) -> pd.DataFrame:
    """Return a chunk without the tool's own report columns, its values as the user typed them.

    A sheet the tool wrote (a fixed to_fix.csv) carries the report's columns and a safety
    ``'`` before values such as ``+1 555``: both go, so the row is imported as a person sees it.
    """
    if not plan.tool_columns:
        return frame
    cells = frame.drop(columns=list(plan.tool_columns))
    return cells.apply(strip_added_quotes) if len(cells.columns) else cells


def apply_mapping(frame: pd.DataFrame, plan: MappingPlan, contract: Contract) -> pd.DataFrame:
    """Return the chunk as vendor fields: one column per mapped field, normalized, NaN if empty.

    Each column has the ``TEXT`` dtype (pandas' Arrow-backed ``str``).
    """
    mapped: dict[str, pd.Series] = {}
    for path in plan.columns:
        mapped[path] = field_values(frame, plan, contract, path)
    for path, column in plan.extras.items():
        mapped[path] = none_if_empty(normalize_text(frame[column]))
    for path, value in plan.constants.items():
        constant = pd.Series(value, index=frame.index, dtype=TEXT)
        mapped[path] = normalize_values(constant, contract.field(path))
    for path, value in plan.extra_constants.items():
        mapped[path] = none_if_empty(
            normalize_text(pd.Series(value, index=frame.index, dtype=TEXT))
        )
    for path in plan.missing_required:  # a preview's plan: validation says "required"
        mapped[path] = pd.Series(np.nan, index=frame.index, dtype=TEXT)
    return pd.DataFrame(mapped, index=frame.index)


def field_values(
    frame: pd.DataFrame, plan: MappingPlan, contract: Contract, path: str
) -> pd.Series:
    """Return one field's normalized values: its columns, else its fallbacks, values mapped."""
    spec = contract.field(path)
    values_map = plan.values.get(path, {})
    cols = plan.columns[path]
    values = _joined(frame, cols)
    result = normalize_values(_mapped_values(values, values_map), spec)
    for column in plan.fallbacks.get(path, ()):
        backup = normalize_values(_mapped_values(frame[column], values_map), spec)
        result = result.where(result.notna(), backup)
    return result


def _joined(frame: pd.DataFrame, cols: Sequence[str]) -> pd.Series:
    """Return the columns' cells joined with a space, column-wise (First Name + Last Name)."""
    if len(cols) == 1:
        return frame[cols[0]]
    parts = [arrow_text(frame[column]) for column in cols]
    separator = pa.scalar(" ", pa.large_string())
    return text_series(pc.binary_join_element_wise(*parts, separator), frame.index)


def _mapped_values(values: pd.Series, values_map: Mapping[str, str | None]) -> pd.Series:
    """Replace each value the mapping file maps (compared trimmed, case-folded) by its value.

    The map is looked up once per distinct value, not once per row.
    """
    if not values_map:
        return values
    codes, uniques = pd.factorize(normalize_text(values))
    found = [values_map.get(key.casefold(), _UNMAPPED) for key in uniques]
    if all(value is _UNMAPPED for value in found):
        return values
    replacement = np.array(
        [None if value is _UNMAPPED else value or "" for value in found], dtype=object
    )
    picked = replacement[codes]
    return values.astype(object).where(pd.isna(picked), picked)


_UNMAPPED = object()


def _notes(contract: Contract, constants: Mapping[str, str]) -> tuple[str, ...]:
    """Warn of a --set on the dedupe key: every row would then share one key."""
    return tuple(
        f"--set {path}={value!r} gives every row the same {path}, which is how {contract.id} "
        "rows are told apart: every row after the first will be reported as a duplicate"
        for path, value in constants.items()
        if path in contract.dedupe_key
    )


def _in_open_object(path: str, contract: Contract) -> bool:
    """Return whether ``path`` is a key of the vendor's open object (``custom_data.region``)."""
    if not contract.open_object or not path.startswith(f"{contract.open_object}."):
        return False
    return all(spec.path != path for spec in contract.fields)


def _checked_columns(columns: Sequence[str], named: Iterable[str], where: str) -> tuple[str, ...]:
    """Return ``named`` after checking that the sheet has each of them."""
    named = tuple(named)
    for column in named:
        if column not in columns:
            raise ConfigError(
                f"mapping file names column {column!r} in {where}, which the sheet does not "
                f"have; its columns are: {', '.join(columns)}"
            )
    return named


def _explicit_columns(
    columns: Sequence[str], contract: Contract, rules: MappingFile
) -> dict[str, tuple[str, ...]]:
    chosen: dict[str, tuple[str, ...]] = {}
    for path, rule in rules.fields.items():
        contract.field(path)
        _checked_columns(columns, [*rule.columns, *rule.fallbacks], path)
        chosen[path] = rule.columns
    return chosen


def _fallbacks(
    columns: Sequence[str],
    contract: Contract,
    chosen: Mapping[str, tuple[str, ...]],
    rules: MappingFile,
) -> dict[str, tuple[str, ...]]:
    """Find, for a phone or email field, the other columns of its kind left unclaimed.

    A Salesforce lead has "Phone" and "Mobile", Outlook "E-mail Address" and "E-mail 2
    Address": where the first is empty, the next fills the field. A mapping file's ``else``
    says it for any field.
    """
    claimed = {column for cols in chosen.values() for column in cols}
    found: dict[str, tuple[str, ...]] = {}
    for path, rule in rules.fields.items():
        if rule.fallbacks and path in chosen:
            found[path] = rule.fallbacks
            claimed.update(rule.fallbacks)
    for path, cols in chosen.items():
        spec = contract.field(path)
        if spec.concept not in FALLBACK_CONCEPTS or spec.array or path in rules.fields:
            continue
        ranked = {
            column: rank
            for column in columns
            if column not in claimed and (rank := ranked_concept(spec.concept, column)) is not None
        }
        spare = sorted(ranked, key=ranked.__getitem__)
        if spare and len(cols) == 1:
            found[path] = tuple(spare)
            claimed.update(spare)
    return found


def _open_object_columns(columns: Sequence[str], contract: Contract) -> dict[str, str]:
    """Return the columns that name a key of the open object (``custom_data.region``)."""
    if not contract.open_object:
        return {}
    prefix = f"{contract.open_object.casefold()}."
    return {
        f"{contract.open_object}.{column.strip()[len(prefix) :]}": column
        for column in columns
        if column.strip().casefold().startswith(prefix) and column.strip()[len(prefix) :]
    }


def _match(
    columns: Sequence[str], spec: FieldSpec, *, by_concept: bool
) -> tuple[tuple[str, ...], str]:
    """Return the columns that fill ``spec`` and why, or nothing."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(normalize_header(column), column)
    if by_concept and spec.array is None and spec.concept in FALLBACK_CONCEPTS:
        # "Phone 1" before "Mobile": the number says which comes first, then the alias.
        ranked = {
            column: rank
            for column in columns
            if (rank := ranked_concept(spec.concept, column)) is not None
        }
        if ranked:
            best = min(ranked, key=ranked.__getitem__)
            return (best,), f"a common CRM header for {spec.concept}, the first of its kind"
    for candidate, reason in _candidates(spec, by_concept=by_concept):
        if candidate in by_key:
            return (by_key[candidate],), reason
    if not by_concept or spec.array is not None:
        return (), ""
    if spec.concept == "full_name":
        first = _first_present(by_key, CONCEPT_ALIASES["first_name"])
        last = _first_present(by_key, CONCEPT_ALIASES["last_name"])
        if first and last:
            return (first, last), "first and last name, joined"
    return (), ""


def _candidates(spec: FieldSpec, *, by_concept: bool) -> Iterable[tuple[str, str]]:
    """Yield the headers that fill a field, best first, each with why.

    A nested field answers to its dotted path ("serviceAddress.zipCode"), its aliases and its
    concept's CRM headers ("Zip"), but not to its bare name, which would let "City" fill every
    address of the body. A field of an array of objects answers only to its path and aliases:
    "Email" is the customer's, not a contact's.
    """
    if not by_concept:
        yield normalize_header(spec.path), "the field's name"
        if spec.top_level:
            yield normalize_header(spec.name), "the field's name"
        for alias in spec.aliases:
            yield normalize_header(alias), f"a name the vendor's field goes by ({alias})"
    elif spec.array is None:
        for alias in CONCEPT_ALIASES.get(spec.concept or "", ()):
            yield normalize_header(alias), f"a common CRM header for {spec.concept}"


def _first_present(by_key: Mapping[str, str], aliases: Iterable[str]) -> str | None:
    for alias in aliases:
        column = by_key.get(normalize_header(alias))
        if column:
            return column
    return None


def _missing_required(
    contract: Contract, chosen: Mapping[str, tuple[str, ...]], constants: Mapping[str, str]
) -> tuple[str, ...]:
    return tuple(
        spec.path
        for spec in contract.fields
        if spec.required and spec.path not in chosen and spec.path not in constants
    )
