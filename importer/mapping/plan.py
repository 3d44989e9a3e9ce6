"""Decide which source columns fill which vendor fields, and apply that plan to each chunk.

A plan is made once from the header row (explicit mapping file, else exact names, else the
aliases that common CRM exports use) and then applied to every chunk with vectorised pandas
string operations; the values it picks are brought to their normal form by ``normalize``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from importer.contracts.contract import Contract, FieldSpec
from importer.errors import ConfigError, MappingError
from importer.mapping.normalize import none_if_empty, normalize_text, normalize_values

# Header names that HubSpot, Salesforce, Google Contacts, Mailchimp, Zoho and Pipedrive exports
# use, by concept. Compared after normalize_header(); earlier entries win over later ones.
CONCEPT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": (
        "email",
        "email address",
        "e-mail",
        "e-mail address",
        "primary email",
        "work email",
        "business email",
        "email 1",
        "e-mail 1 - value",
        "email 1 - value",
        "person - email",
        "email - work",
        "contact email",
        "mail",
    ),
    "phone": (
        "phone",
        "phone number",
        "primary phone",
        "business phone",
        "work phone",
        "telephone",
        "tel",
        "phone 1 - value",
        "person - phone",
        "phone - work",
        "contact phone",
        "contact phone number",
        "mobile",
        "mobile phone",
        "mobile phone number",
        "mobile number",
        "cell",
        "cell phone",
    ),
    "full_name": (
        "name",
        "full name",
        "contact name",
        "contact",
        "customer name",
        "display name",
        "person - name",
        "person name",
        "lead name",
    ),
    "first_name": (
        "first name",
        "firstname",
        "given name",
        "first",
        "fname",
        "person - first name",
    ),
    "last_name": (
        "last name",
        "lastname",
        "surname",
        "family name",
        "last",
        "lname",
        "person - last name",
    ),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "organization name",
        "account name",
        "account",
        "business name",
        "organization 1 - name",
        "organization - name",
    ),
    "street": (
        "street",
        "street address",
        "address",
        "address line 1",
        "address 1",
        "address1",
        "street 1",
        "mailing street",
        "billing street",
        "address 1 - street",
        "street line 1",
    ),
    "street2": (
        "address line 2",
        "address 2",
        "address2",
        "street 2",
        "street address 2",
        "apartment",
        "suite",
        "address 1 - extended address",
    ),
    "city": ("city", "town", "locality", "mailing city", "billing city", "address 1 - city"),
    "state": (
        "state",
        "state/region",
        "state/province",
        "province",
        "region",
        "state or province",
        "mailing state/province",
        "billing state/province",
        "address 1 - region",
        "county",
    ),
    "postal_code": (
        "postal code",
        "zip",
        "zip code",
        "zipcode",
        "zip/postal code",
        "postcode",
        "post code",
        "postal",
        "mailing zip/postal code",
        "billing zip/postal code",
        "address 1 - postal code",
    ),
    "country": (
        "country",
        "country/region",
        "country code",
        "mailing country",
        "billing country",
        "address 1 - country",
    ),
    "website": ("website", "website url", "web site", "url", "homepage", "web"),
    "notes": ("notes", "note", "comments", "comment", "description"),
}

# Concepts where a second column of the kind (Mobile beside Phone) fills an empty first.
FALLBACK_CONCEPTS = frozenset({"phone", "email"})


def normalize_header(name: str) -> str:
    """Return the header with case, spaces and punctuation removed, for matching."""
    return re.sub(r"[\W_]+", "", name.casefold())


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingPlan:
    """Which source columns fill which vendor fields, decided once per sheet."""

    columns: Mapping[str, tuple[str, ...]]
    """Field path -> the source columns that fill it (several are joined with a space)."""
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field path -> columns whose value fills it where its own column is empty (Mobile)."""
    constants: Mapping[str, str] = field(default_factory=dict)
    extras: Mapping[str, str] = field(default_factory=dict)
    """Key in the vendor's open object -> the unmapped column sent there (on request only)."""
    extra_constants: Mapping[str, str] = field(default_factory=dict)
    """Key in the vendor's open object -> the ``--set`` value sent there on every row."""
    unmapped: tuple[str, ...] = ()

    def describe(self) -> dict[str, str]:
        """Return field -> where its value comes from, for the summary."""
        described = {path: " + ".join(cols) for path, cols in self.columns.items()}
        for path, cols in self.fallbacks.items():
            described[path] += "".join(f", else {column}" for column in cols)
        for path, value in {**self.constants, **self.extra_constants}.items():
            described[path] = f"--set {value!r}"
        described.update(self.extras)
        return described


def plan_mapping(
    columns: Sequence[str],
    contract: Contract,
    *,
    explicit: Mapping[str, Sequence[str] | None] | None = None,
    constants: Mapping[str, str] | None = None,
    extras_to_open_object: bool = False,
) -> MappingPlan:
    """Decide which column fills each field of the contract.

    With ``extras_to_open_object``, columns that fill no field are sent as text into the
    vendor's open object (``customFields``, ``custom_data``...), keyed by their header.

    Raises:
        ConfigError: when the mapping file or a constant names an unknown field or column.
        MappingError: when a required field has neither a column nor a constant.
    """
    constants = dict(constants or {})
    extra_constants = {
        path: value for path, value in constants.items() if _in_open_object(path, contract)
    }
    constants = {path: value for path, value in constants.items() if path not in extra_constants}
    for path in constants:
        contract.field(path)
    chosen = _explicit_columns(columns, contract, explicit or {})
    # Names first, CRM aliases second: a column that names a field ("Contact Phone" of
    # contacts[].phone) is that field's, never another's by a generic alias ("phone").
    for by_concept in (False, True):
        claimed = {column for cols in chosen.values() for column in cols}
        free = [column for column in columns if column not in claimed]
        for spec in contract.fields:
            if spec.path in chosen or spec.path in constants:
                continue
            found = _match(free, spec, by_concept=by_concept)
            if found:
                chosen[spec.path] = found
    chosen = {path: cols for path, cols in chosen.items() if cols and path not in constants}
    _require(contract, chosen, constants)
    fallbacks = _fallbacks(columns, contract, chosen, explicit or {})
    used = {column for cols in [*chosen.values(), *fallbacks.values()] for column in cols}
    extras = _open_object_columns([column for column in columns if column not in used], contract)
    unmapped = tuple(
        column for column in columns if column not in used and column not in extras.values()
    )
    if extras_to_open_object:
        if not contract.open_object:
            raise ConfigError(f"{contract.id} has no open object to send extra columns into")
        extras |= {f"{contract.open_object}.{column}": column for column in unmapped}
        unmapped = ()
    return MappingPlan(
        columns=chosen,
        fallbacks=fallbacks,
        constants=constants,
        extras=extras,
        extra_constants=extra_constants,
        unmapped=unmapped,
    )


def load_mapping_file(path: Path) -> dict[str, list[str] | None]:
    """Read a mapping file: YAML or JSON, ``field: column`` (or a list of columns, or null).

    Raises:
        ConfigError: when the file is missing or not a mapping of fields to columns.
    """
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read mapping file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"mapping file {path} is not valid YAML or JSON{line}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"mapping file {path} must map vendor fields to column names")
    plan: dict[str, list[str] | None] = {}
    for key, value in doc.items():
        if value is None:
            plan[str(key)] = None
        elif isinstance(value, list | tuple):
            plan[str(key)] = [str(item) for item in value]
        else:
            plan[str(key)] = [str(value)]
    return plan


def apply_mapping(frame: pd.DataFrame, plan: MappingPlan, contract: Contract) -> pd.DataFrame:
    """Return the chunk as vendor fields: one column per mapped field, normalized, None if empty."""
    mapped = pd.DataFrame(index=frame.index)
    for path, cols in plan.columns.items():
        values = frame[list(cols)].agg(" ".join, axis=1) if len(cols) > 1 else frame[cols[0]]
        mapped[path] = normalize_values(values, contract.field(path))
        for column in plan.fallbacks.get(path, ()):
            backup = normalize_values(frame[column], contract.field(path))
            mapped[path] = mapped[path].where(mapped[path].notna(), backup)
    for path, column in plan.extras.items():
        mapped[path] = none_if_empty(normalize_text(frame[column]))
    for path, value in plan.constants.items():
        constant = pd.Series(value, index=frame.index, dtype=object)
        mapped[path] = normalize_values(constant, contract.field(path))
    for path, value in plan.extra_constants.items():
        mapped[path] = none_if_empty(
            normalize_text(pd.Series(value, index=frame.index, dtype=object))
        )
    return mapped


def _in_open_object(path: str, contract: Contract) -> bool:
    """Return whether ``path`` is a key of the vendor's open object (``custom_data.region``)."""
    if not contract.open_object or not path.startswith(f"{contract.open_object}."):
        return False
    return all(spec.path != path for spec in contract.fields)


def _explicit_columns(
    columns: Sequence[str], contract: Contract, explicit: Mapping[str, Sequence[str] | None]
) -> dict[str, tuple[str, ...]]:
    chosen: dict[str, tuple[str, ...]] = {}
    for path, cols in explicit.items():
        contract.field(path)
        for column in cols or ():
            if column not in columns:
                raise ConfigError(
                    f"mapping file names column {column!r}, which the sheet does not have; "
                    f"its columns are: {', '.join(columns)}"
                )
        chosen[path] = tuple(cols or ())
    return chosen


def _fallbacks(
    columns: Sequence[str],
    contract: Contract,
    chosen: Mapping[str, tuple[str, ...]],
    explicit: Mapping[str, Sequence[str] | None],
) -> dict[str, tuple[str, ...]]:
    """Find, for a phone or email field, the other columns of its kind left unclaimed.

    A Salesforce lead has "Phone" and "Mobile": where Phone is empty, Mobile fills the field.
    """
    claimed = {column for cols in chosen.values() for column in cols}
    found: dict[str, tuple[str, ...]] = {}
    for path, cols in chosen.items():
        spec = contract.field(path)
        if spec.concept not in FALLBACK_CONCEPTS or spec.array or path in explicit:
            continue
        aliases = [normalize_header(alias) for alias in CONCEPT_ALIASES[spec.concept]]
        spare = [
            column
            for column in columns
            if column not in claimed and normalize_header(column) in aliases
        ]
        spare.sort(key=lambda column: aliases.index(normalize_header(column)))
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


def _match(columns: Sequence[str], spec: FieldSpec, *, by_concept: bool) -> tuple[str, ...]:
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(normalize_header(column), column)
    for candidate in _candidates(spec, by_concept=by_concept):
        if candidate in by_key:
            return (by_key[candidate],)
    if by_concept and spec.concept == "full_name" and spec.array is None:
        first = _first_present(by_key, CONCEPT_ALIASES["first_name"])
        last = _first_present(by_key, CONCEPT_ALIASES["last_name"])
        if first and last:
            return (first, last)
    return ()


def _candidates(spec: FieldSpec, *, by_concept: bool) -> Iterable[str]:
    """Yield the headers that fill a field, best first.

    A nested field answers to its dotted path ("serviceAddress.zipCode"), its aliases and its
    concept's CRM headers ("Zip"), but not to its bare name, which would let "City" fill every
    address of the body. A field of an array of objects answers only to its path and aliases:
    "Email" is the customer's email, not a contact's.
    """
    if not by_concept:
        yield normalize_header(spec.path)
        if spec.top_level:
            yield normalize_header(spec.name)
        for alias in spec.aliases:
            yield normalize_header(alias)
    elif spec.array is None:
        for alias in CONCEPT_ALIASES.get(spec.concept or "", ()):
            yield normalize_header(alias)


def _first_present(by_key: Mapping[str, str], aliases: Iterable[str]) -> str | None:
    for alias in aliases:
        column = by_key.get(normalize_header(alias))
        if column:
            return column
    return None


def _require(
    contract: Contract, chosen: Mapping[str, tuple[str, ...]], constants: Mapping[str, str]
) -> None:
    missing = [
        spec.path
        for spec in contract.fields
        if spec.required and spec.path not in chosen and spec.path not in constants
    ]
    if missing:
        names = ", ".join(missing)
        raise MappingError(
            f"no column for required field(s) {names} of {contract.id}: add a column with that "
            f"name, map one with --mapping, or give a constant with --set {missing[0]}=VALUE"
        )
