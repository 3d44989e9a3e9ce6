"""Vendor contracts: the declarative files in ``schemas/``, loaded into typed objects.

A contract holds the vendor's request JSON Schema plus what an import needs to know about the
endpoint (path, auth, rate limits, how answers and errors look, the dedupe key). Everything the
stages do per vendor is read from here; no stage names a vendor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import yaml

from importer.errors import ConfigError, UnknownVendor

SCHEMA_PACKAGE = "importer.schemas"
ITEMS = "[]"
"""Marks an array of objects in a field path: ``items[].offerId`` is each item's offerId."""
LIST_SEPARATORS = re.compile(r"\s*[;|]\s*")
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})
"""How a cell says yes or no to a boolean field, compared lower-cased."""
"""How one cell of a flat sheet holds a list: values separated by ``;`` or ``|``."""


def split_list(text: str) -> list[str]:
    """Split a cell holding a list into its non-empty, trimmed values."""
    return [item for item in LIST_SEPARATORS.split(text.strip()) if item]


def split_slots(text: str) -> list[str]:
    """Split a cell holding one value per item, keeping empty slots in place.

    ``"; bo@x.io"`` is ``["", "bo@x.io"]``: the second item's value, not the first's. Empty
    slots at the end say nothing and are dropped.
    """
    slots = [item.strip() for item in LIST_SEPARATORS.split(text.strip())]
    while slots and not slots[-1]:
        slots.pop()
    return slots


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One leaf of the request body, addressed by its dotted path."""

    path: str
    type: str
    required: bool
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    format: str | None = None
    item_type: str | None = None
    default: str | None = None
    concept: str | None = None
    aliases: tuple[str, ...] = ()
    required_in_item: bool = False
    """Every item of its array must have it (``contacts[].name``), even if the array is optional."""
    as_set: bool = False
    """The cell lists a set: normalized to sorted, distinct values (an order's offer ids)."""
    pattern_words: str | None = None
    """How to say the pattern rule to a person ("must include its protocol")."""
    description: str = ""

    @property
    def name(self) -> str:
        """Return the last segment of the path."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def array(self) -> str | None:
        """Return the path of the array of objects this field sits in (``contacts[]``), if any."""
        head, mark, _ = self.path.partition(ITEMS)
        return f"{head}{mark}" if mark else None

    @property
    def top_level(self) -> bool:
        """Return whether the field sits directly in the body (no parent object or array)."""
        return "." not in self.path and ITEMS not in self.path


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthSpec:
    """How requests prove who sends them."""

    scheme: str
    header: str | None
    credentials: Mapping[str, str]
    sandbox_credentials: Mapping[str, str]
    sandbox_rotated_credentials: Mapping[str, str] = field(default_factory=dict)
    """A second, rotated set for the same sandbox account (same roles, other secrets)."""
    window_seconds: float | None = None
    """How far a signed request's timestamp may be from the vendor's clock (signed schemes)."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds``."""

    requests: int
    per_seconds: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Read a rate such as ``100/min``, ``5/s`` or ``10000/h`` (a bare number is per minute).

        Raises:
            ValueError: with a message for a person, when ``text`` is not such a rate.
        """
        count, _, unit = str(text).strip().partition("/")
        try:
            requests = int(count)
            seconds = RATE_UNITS[unit.strip().lower() or "min"]
        except (ValueError, KeyError):
            raise ValueError(f"{text!r} is not a rate like 100/min, 5/s or 10000/h") from None
        if requests < 1:
            raise ValueError("a rate needs at least 1 request")
        return cls(requests, seconds)


RATE_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hour": 3600}
"""The units a rate is written in, in seconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorBodySpec:
    """How a vendor's error body reads: its style and where its parts are (dotted paths).

    ``errors`` names the list of per-field errors, if the vendor sends one; each entry keeps
    the blamed field under ``error_field``, its words under ``error_message`` and the refused
    value under ``error_value``.
    """

    style: str
    message: str
    code: str | None = None
    errors: str | None = None
    error_field: str = "field"
    error_message: str = "message"
    error_value: str | None = None


@dataclass(frozen=True, slots=True)
class AlreadyExists:
    """A non-409 answer that says the record already exists: its status and error entry."""

    status: int
    field: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Contract:
    """Everything an import needs to know about one vendor endpoint."""

    id: str
    title: str
    seed: str
    description: str
    method: str
    path: str
    production_url: str | None
    auth: AuthSpec
    rate_limits: tuple[RateLimit, ...]
    created_statuses: frozenset[int]
    conflict_statuses: frozenset[int]
    fatal_statuses: frozenset[int]
    id_field: str
    success_style: str
    error_body: ErrorBodySpec
    dedupe_key: tuple[str, ...]
    duplicates_detected_by: tuple[str, ...]
    """Fields by which the vendor detects a re-sent record (its 409): a row carrying all of
    them may be re-sent after a lost answer; any other row may not."""
    already_exists: tuple[AlreadyExists, ...]
    fields: tuple[FieldSpec, ...]
    open_object: str | None
    request_schema: Mapping[str, Any]
    sandbox: Mapping[str, Any] = field(default_factory=dict)

    def field(self, path: str) -> FieldSpec:
        """Return the field at ``path``, or raise ConfigError listing the fields."""
        for spec in self.fields:
            if spec.path == path:
                return spec
        known = ", ".join(spec.path for spec in self.fields)
        raise ConfigError(f"{self.id} has no field {path!r}; its fields are: {known}")

    @property
    def credential_vars(self) -> tuple[str, ...]:
        """Return the environment variables that hold this vendor's credentials."""
        return tuple(self.auth.credentials.values())


def vendor_ids() -> list[str]:
    """Return the id of every contract shipped with the package, sorted."""
    folder = resources.files(SCHEMA_PACKAGE)
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_contract(vendor: str) -> Contract:
    """Load the contract of ``vendor`` from the package's schemas.

    Raises:
        UnknownVendor: when no contract file has that id.
    """
    known = vendor_ids()
    if vendor not in known:
        raise UnknownVendor(f"unknown vendor {vendor!r}; choose one of: {', '.join(known)}")
    text = resources.files(SCHEMA_PACKAGE).joinpath(f"{vendor}.yaml").read_text("utf-8")
    return parse_contract(yaml.safe_load(text))


def load_all() -> list[Contract]:
    """Load every shipped contract."""
    return [load_contract(vendor) for vendor in vendor_ids()]


def parse_contract(doc: Mapping[str, Any]) -> Contract:
    """Build a Contract from the parsed YAML document of a contract file."""
    schema = doc["request_schema"]
    responses = doc["responses"]
    auth = doc["auth"]
    return Contract(
        id=doc["id"],
        title=doc["title"],
        seed=doc["seed"],
        description=doc.get("description", ""),
        method=doc["endpoint"]["method"].upper(),
        path=doc["endpoint"]["path"],
        production_url=doc["endpoint"].get("production_url"),
        auth=AuthSpec(
            scheme=auth["scheme"],
            header=auth.get("header"),
            credentials=dict(auth["credentials"]),
            sandbox_credentials=dict(auth.get("sandbox_credentials", {})),
            sandbox_rotated_credentials=dict(auth.get("sandbox_rotated_credentials", {})),
            window_seconds=auth.get("window_seconds"),
        ),
        rate_limits=tuple(
            RateLimit(int(limit["requests"]), float(limit["per_seconds"]))
            for limit in doc.get("rate_limits", [])
        ),
        created_statuses=frozenset(responses["created"]),
        conflict_statuses=frozenset(responses.get("conflict", [])),
        fatal_statuses=frozenset(responses.get("fatal", [401, 403])),
        id_field=responses.get("id_field", "id"),
        success_style=responses.get("success_style", "flat"),
        error_body=ErrorBodySpec(**responses["error_body"]),
        dedupe_key=tuple(doc.get("dedupe_key", [])),
        duplicates_detected_by=tuple(doc.get("duplicates_detected_by", [])),
        already_exists=tuple(
            AlreadyExists(int(each["status"]), each["field"], each["message"])
            for each in responses.get("already_exists", [])
        ),
        fields=tuple(flatten_fields(schema, doc.get("fields", {}))),
        open_object=doc.get("open_object"),
        request_schema=schema,
        sandbox=doc.get("sandbox", {}),
    )


def flatten_fields(
    schema: Mapping[str, Any], hints: Mapping[str, Mapping[str, Any]]
) -> list[FieldSpec]:
    """List the leaves of a JSON Schema object as dotted-path fields.

    Open objects (no declared properties) are not leaves: they are filled on request only.
    """
    leaves: list[FieldSpec] = []
    _walk(schema, schema, prefix="", parent_required=True, hints=hints, out=leaves)
    return leaves


def _walk(
    root: Mapping[str, Any],
    node: Mapping[str, Any],
    *,
    prefix: str,
    parent_required: bool,
    hints: Mapping[str, Mapping[str, Any]],
    out: list[FieldSpec],
) -> None:
    required = set(node.get("required", []))
    for name, raw in node.get("properties", {}).items():
        prop = resolve(root, raw)
        path = f"{prefix}{name}"
        is_required = parent_required and name in required
        if _type_of(prop) == "object":
            _walk(root, prop, prefix=f"{path}.", parent_required=is_required, hints=hints, out=out)
            continue
        items = resolve(root, prop.get("items", {}))
        if _type_of(prop) == "array" and _type_of(items) == "object" and ITEMS not in prefix:
            # An array of objects: one column per item field, the items listed in the cell.
            _walk(
                root,
                items,
                prefix=f"{path}{ITEMS}.",
                parent_required=is_required,
                hints=hints,
                out=out,
            )
            continue
        leaf = _leaf(root, path, prop, is_required, hints.get(path, {}))
        in_item = prefix.endswith(f"{ITEMS}.") and name in required
        out.append(replace(leaf, required_in_item=True) if in_item else leaf)


def _leaf(
    root: Mapping[str, Any],
    path: str,
    prop: Mapping[str, Any],
    required: bool,
    hint: Mapping[str, Any],
) -> FieldSpec:
    items = resolve(root, prop.get("items", {}))
    enum = prop.get("enum")
    default = prop.get("default")
    return FieldSpec(
        path=path,
        type=_type_of(prop),
        required=required,
        nullable=bool(prop.get("nullable", False)) or "null" in _types(prop),
        min_length=prop.get("minLength"),
        max_length=prop.get("maxLength"),
        enum=tuple(str(value) for value in enum if value is not None) if enum else None,
        pattern=prop.get("pattern"),
        format=prop.get("format"),
        item_type=_type_of(items) if items else None,
        default=None if default is None else str(default),
        concept=hint.get("concept"),
        aliases=tuple(hint.get("aliases", ())),
        as_set=bool(hint.get("set", False)),
        pattern_words=hint.get("pattern_words"),
        description=prop.get("description", ""),
    )


def resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (and a one-element ``allOf``) to the schema it names.

    ``anyOf: [X, {type: "null"}]`` (a nullable object) resolves to X, marked nullable.
    """
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = {key: value for key, value in node.items() if key != "allOf"}
        return {**resolve(root, node["allOf"][0]), **merged}
    alternatives = [alt for alt in node.get("anyOf", ()) if alt.get("type") != "null"]
    if "anyOf" in node and len(alternatives) == 1:
        merged = {key: value for key, value in node.items() if key != "anyOf"}
        nullable = len(node["anyOf"]) > 1
        return {**resolve(root, alternatives[0]), **merged, "nullable": nullable}
    ref = node.get("$ref")
    if not ref:
        return node
    if not ref.startswith("#/"):
        raise ConfigError(f"only local $ref is supported in contracts, not {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return resolve(root, target)


def _types(prop: Mapping[str, Any]) -> list[str]:
    declared = prop.get("type", "string")
    return list(declared) if isinstance(declared, list) else [declared]


def _type_of(prop: Mapping[str, Any]) -> str:
    if "properties" in prop:
        return "object"
    kinds = [kind for kind in _types(prop) if kind != "null"]
    return kinds[0] if kinds else "string"
