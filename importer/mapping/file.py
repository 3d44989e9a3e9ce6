"""Mapping files: the user's word on which column fills which field, and what a value means.

A mapping file is YAML (or JSON). The short form maps fields to columns::

    fullName: [First Name, Last Name]   # a list joins its columns with a space
    email: Contact
    phone: null                         # leave the field empty

The full form, which ``importer inspect --write-mapping`` writes, adds what the short form
cannot say: a column that fills a field where its own is empty (``else``), what a value of an
enum field means (``values``), and the columns left out on purpose (``ignore``)::

    fields:
      phone: {column: Phone 1, else: [Phone 2, Mobile]}
      source:
        column: Lead Source
        values: {Google Ads: link, Trade show: event, Unknown: null}
    ignore: [Lead Score, Owner]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from importer.errors import ConfigError

__all__ = ["FieldRule", "MappingFile", "load_mapping_file", "mapping_file_text"]

_RULE_KEYS = frozenset({"column", "columns", "else", "values"})


@dataclass(frozen=True, slots=True)
class FieldRule:
    """Where one field's value comes from, by the user's word."""

    columns: tuple[str, ...] = ()
    """The columns that fill it (several are joined with a space); none leaves it empty."""
    fallbacks: tuple[str, ...] = ()
    """Columns whose value fills it where its own columns are empty, in order."""
    values: Mapping[str, str | None] = field(default_factory=dict)
    """A sheet value (compared trimmed and case-insensitively) -> the value sent; None: empty."""


@dataclass(frozen=True, slots=True)
class MappingFile:
    """A mapping file as read: rules per field and the columns left out on purpose."""

    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()

    @classmethod
    def of(cls, explicit: Mapping[str, Sequence[str] | None]) -> MappingFile:
        """Return the mapping of the short form: field -> its columns (None: empty)."""
        return cls({path: FieldRule(tuple(cols or ())) for path, cols in explicit.items()})


def load_mapping_file(path: Path) -> MappingFile:
    """Read a mapping file in its short or full form (see the module docstring).

    Raises:
        ConfigError: when the file is missing, not YAML or JSON, or not a mapping of fields.
    """
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read mapping file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"mapping file {path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"mapping file {path} is not valid YAML or JSON{line}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"mapping file {path} must map vendor fields to column names")
    if isinstance(doc.get("fields"), dict):
        unknown = sorted(set(map(str, doc)) - {"fields", "ignore", "vendor"})
        if unknown:
            raise ConfigError(
                f"mapping file {path} has unknown key(s) {', '.join(unknown)}; "
                "its keys are fields, ignore and vendor"
            )
        fields, ignore = doc["fields"], doc.get("ignore") or []
    else:
        fields, ignore = doc, []
    if not isinstance(ignore, list):
        raise ConfigError(f"mapping file {path}: ignore must be a list of column names")
    rules = {str(key): _rule(path, str(key), value) for key, value in fields.items()}
    return MappingFile(rules, tuple(str(column) for column in ignore))


def _rule(path: Path, name: str, value: Any) -> FieldRule:
    if value is None:
        return FieldRule()
    if isinstance(value, list | tuple):
        return FieldRule(tuple(str(item) for item in value))
    if not isinstance(value, dict):
        return FieldRule((str(value),))
    unknown = sorted(set(map(str, value)) - _RULE_KEYS)
    if unknown:
        raise ConfigError(
            f"mapping file {path}: field {name} has unknown key(s) {', '.join(unknown)}; "
            "a field takes column (or columns), else and values"
        )
    columns = value.get("columns", value.get("column"))
    fallbacks = value.get("else") or []
    values = value.get("values") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"mapping file {path}: values of {name} must map sheet values to values")
    return FieldRule(
        _names(columns),
        _names(fallbacks),
        {str(key).strip().casefold(): None if v is None else str(v) for key, v in values.items()},
    )


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return (str(value),)


def mapping_file_text(
    vendor: str,
    rules: Mapping[str, FieldRule],
    *,
    why: Mapping[str, str],
    ignore: Sequence[str],
    comments: Sequence[str] = (),
) -> str:
    """Return a mapping file in the full form, with why each field was chosen as comments."""
    doc: dict[str, Any] = {"vendor": vendor, "fields": {}, "ignore": list(ignore)}
    for path, rule in rules.items():
        doc["fields"][path] = _rule_doc(rule)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    lines = []
    for line in text.splitlines():
        key = line.strip().split(":", 1)[0]
        top = line.startswith("  ") and not line.startswith("    ")
        lines.append(f"{line}  # {why[key]}" if top and key in why else line)
    header = [
        f"# Mapping for {vendor}: edit it, then pass it back with --mapping FILE.",
        "# field: column, or a list of columns joined with a space, or null to leave it empty;",
        "# or {column: C, else: [other columns that fill it where C is empty],",
        "#     values: {value in your sheet: value the vendor takes, or null}}.",
        "# ignore: columns deliberately left out (they are not reported as unused).",
        *(f"# {comment}" for comment in comments),
    ]
    return "\n".join([*header, *lines]) + "\n"


def _rule_doc(rule: FieldRule) -> Any:
    column: Any = (
        None
        if not rule.columns
        else (rule.columns[0] if len(rule.columns) == 1 else list(rule.columns))
    )
    if not rule.fallbacks and not rule.values:
        return column
    doc: dict[str, Any] = {"column": column}
    if rule.fallbacks:
        doc["else"] = list(rule.fallbacks)
    if rule.values:
        doc["values"] = dict(rule.values)
    return doc
