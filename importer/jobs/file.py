"""Job files: saved imports in TOML, read once, checked whole, never holding a secret.

A job file holds one ``[job.NAME]`` table per import, run in the order written, and may hold a
``[defaults]`` table whose keys every job takes unless it sets its own::

    [defaults]
    state = "state"                      # the ledger (relative to this file's folder, or a
                                         # postgresql://USER@HOST/DB URL without password)
    out = "reports/{job}/{stamp}"        # one report folder per run

    [job.acme-leads]
    sheet = "exports/acme-leads-*.csv"   # a path or a glob: the newest match
    vendor = "offergrid-leads"
    base_url = "https://api.offergrid.io"
    credentials = { OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }
    fail_if_failed_over = "5%"

Each key is the ``importer run`` option of the same name (``--base-url`` is ``base_url``), except
``sheet`` (the file; ``--sheet`` is ``worksheet``), ``set`` (a table of ``--set`` values),
``sandbox`` (``true`` for ``--sandbox``), ``credentials`` (which variable holds each
credential) and ``fail_if_failed_over``. Paths are relative to the job file's folder.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from importer.contracts.contract import RateLimit, load_all, load_contract, vendor_ids
from importer.errors import JobFileError
from importer.jobs.secret_scan import (
    SECRET_WORDS,
    VARIABLE_NAME,
    looks_like_credential,
    url_problem,
)
from importer.jobs.threshold import FailureThreshold, ThresholdError
from importer.ledger import is_database_url
from importer.push.settings import PushSettings

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A job's name: it may name a folder (``{job}`` in ``out``), so letters, digits, ``_.-``."""
OUT_FIELDS = frozenset({"job", "date", "stamp"})
"""The placeholders of ``out``: the job's name, and the day and moment the job starts (UTC)."""
DEFAULT_OUT = "reports/{job}/{stamp}"
MIN_KNOWN_SECRET = 8
"""A credential found in the environment counts as leaked into the file only from this length
on: a shorter one would match ordinary words."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One saved import, with paths made absolute; the run's config is built from it."""

    name: str
    file: Path
    """The job file it came from (for messages)."""
    sheet: Path
    """The sheet, or a glob whose newest match is the sheet."""
    vendor: str
    base_url: str | None = None
    sandbox: bool = False
    account: str | None = None
    mapping: Path | None = None
    worksheet: str | None = None
    header_row: int | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = PushSettings().concurrency
    rate_limit: RateLimit | None = None
    time_budget: float | None = None
    state: Path | str | None = None
    """The ledger's folder or PostgreSQL URL; None: the user's state folder (a temporary one
    with a sandbox)."""
    out: str = ""
    """The report folder, absolute, with ``{job}``, ``{date}`` and ``{stamp}`` to fill."""
    credentials: Mapping[str, str] = field(default_factory=dict)
    """Which environment variable holds each credential the vendor reads: vendor's name ->
    the variable to read instead. Names only, never values."""
    fail_if_failed_over: FailureThreshold | None = None
    extras_to_open_object: bool = False
    resend_rejected: bool = False


@dataclass(frozen=True, slots=True)
class JobFile:
    """A job file's jobs, in the order they are written."""

    path: Path
    jobs: tuple[Job, ...]

    def select(self, names: Sequence[str]) -> tuple[Job, ...]:
        """Return the jobs named (in the file's order), or every job when none is named.

        Raises:
            JobFileError: when a name is not a job of the file.
        """
        known = {job.name for job in self.jobs}
        missing = [name for name in names if name not in known]
        if missing:
            raise JobFileError(
                f"{self.path.name} has no job {missing[0]!r}; its jobs: {', '.join(sorted(known))}"
            )
        return tuple(job for job in self.jobs if not names or job.name in names)


def load_job_file(path: Path, *, env: Mapping[str, str]) -> JobFile:
    """Read and check a whole job file; ``env`` is searched for credentials pasted into it.

    Raises:
        JobFileError: naming the file, the line where it can tell, the job and the key; never
            quoting a value that looks like a secret.
    """
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise JobFileError(f"{path.name} is not valid TOML: {error}") from None
    where = _Locator(path, text)
    known = _credential_values(data, env)
    for key_path, value in _leaves(data):
        _refuse_secret(key_path, value, known, where)
    for key in data:
        if key not in ("job", "defaults"):
            raise where.error(
                (key,), f"unknown key {key!r}: a job file holds [defaults] and [job.NAME] tables"
            )
    defaults = _table(data.get("defaults", {}), ("defaults",), where)
    jobs = _table(data.get("job", {}), ("job",), where)
    if not jobs:
        raise JobFileError(f"{path.name} holds no job: add a [job.NAME] table (see README)")
    return JobFile(
        path,
        tuple(_job(name, table, defaults, where) for name, table in jobs.items()),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobFileError(f"job file {path} does not exist") from None
    except IsADirectoryError:
        raise JobFileError(f"{path} is a folder, not a job file") from None
    except UnicodeDecodeError:
        raise JobFileError(f"{path.name} is not UTF-8 text, as a TOML file must be") from None
    except OSError as error:
        raise JobFileError(f"cannot read job file {path}: {error.strerror}") from None


def _table(value: object, key_path: tuple[str, ...], where: _Locator) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(
            key_path,
            f"{key_path[-1]} must be a table such as [{key_path[-1]}.NAME]"
            if key_path == ("job",)
            else f"{key_path[-1]} must be a table",
        )
    return value


def _leaves(
    data: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], object]]:
    """Yield every key path of the document with its value (tables are walked into)."""
    for key, value in data.items():
        key_path = (*prefix, key)
        if isinstance(value, dict):
            yield key_path, value
            yield from _leaves(value, key_path)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _leaves(item, key_path)
                else:
                    yield key_path, item
        else:
            yield key_path, value


def _credential_values(data: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Return the credentials the environment holds: any vendor's, and those the file names."""
    names = {name for contract in load_all() for name in contract.credential_vars}
    for key_path, value in _leaves(data):
        if len(key_path) >= 2 and key_path[-2] == "credentials" and isinstance(value, str):
            names.add(value)
    values = (env.get(name, "").strip() for name in names)
    return [value for value in values if len(value) >= MIN_KNOWN_SECRET]


def _refuse_secret(
    key_path: tuple[str, ...], value: object, known: Iterable[str], where: _Locator
) -> None:
    """Refuse a key or value that looks like a secret, without showing the value.

    Raises:
        JobFileError: naming the key and its line.
    """
    key = key_path[-1]
    in_credentials = len(key_path) >= 2 and key_path[-2] == "credentials"
    if isinstance(value, dict):
        return
    if in_credentials:
        if not VARIABLE_NAME.fullmatch(key):
            raise where.error(
                key_path[:-1],
                "credentials keys name the variables the vendor "
                "reads, such as OFFERGRID_API_KEY (see importer vendors); one "
                "does not (not shown, in case it is a secret)",
            )
        if not (
            isinstance(value, str)
            and VARIABLE_NAME.fullmatch(value)
            and not looks_like_credential(value, known)
        ):
            raise where.error(
                key_path,
                f"credentials.{key} must name the environment variable "
                f"that holds it, such as ACME_{key}, not hold it: the value is "
                "not shown; remove it from the file and export it instead",
            )
        return
    if SECRET_WORDS.search(key) and not (isinstance(value, str) and VARIABLE_NAME.fullmatch(value)):
        raise where.error(
            key_path,
            f"{key!r} looks like it holds a secret (not shown): a job "
            "file names the environment variables that hold credentials, e.g. "
            'credentials = {OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY"}, never '
            "their values",
        )
    if not isinstance(value, str):
        return
    if looks_like_credential(value, known):
        raise where.error(
            key_path,
            f"the value of {key!r} looks like a credential (not "
            "shown): keep credentials in environment variables and name them "
            "in credentials = {...}",
        )
    if key == "state" and is_database_url(value):
        parts = urlsplit(value.strip())
        if parts.password is not None or parts.query:
            raise where.error(
                key_path,
                "state carries a password or a query (not shown): give the database's URL "
                "without them, and the password through PGPASSWORD or ~/.pgpass",
            )
        return
    problem = url_problem(value) if key == "base_url" else None
    if problem:
        raise where.error(
            key_path,
            f"base_url carries {problem} (not shown): give the "
            "vendor's base URL only, and credentials in environment variables",
        )


Convert = Callable[[Any, "_Context"], Any]


@dataclass(frozen=True, slots=True)
class _Context:
    """What converting one key's value needs: the job file's folder."""

    folder: Path


class _Bad(ValueError):
    """Raised by a converter: the value is wrong; the message says what a right one is."""


def _text(value: object, _: _Context) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("must be a non-empty string")
    return value.strip()


def _path(value: object, context: _Context) -> Path:
    return context.folder / Path(_text(value, context)).expanduser()


def _state(value: object, context: _Context) -> Path | str:
    """Return a ledger's folder (relative to the job file's), or a PostgreSQL URL as written."""
    text = _text(value, context)
    return text.strip() if is_database_url(text) else _path(text, context)


def _flag(value: object, _: _Context) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


def _vendor(value: object, context: _Context) -> str:
    vendor = _text(value, context)
    if vendor not in vendor_ids():
        raise _Bad(f"{vendor!r} is not a vendor id (see importer vendors)")
    return vendor


def _concurrency(value: object, _: _Context) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise _Bad("must be a whole number from 1 to 256")
    return value


def _row_number(value: object, _: _Context) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Bad("must be a row number, 1 or more")
    return value


def _rate(value: object, context: _Context) -> RateLimit:
    try:
        return RateLimit.parse(_text(value, context))
    except ValueError as error:
        raise _Bad(str(error)) from None


def _seconds(value: object, _: _Context) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise _Bad("must be a number of seconds, at least 1")
    return float(value)


def _constants(value: object, _: _Context) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad('must be a table such as { kind = "lead" }')
    constants: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool):
            constants[name] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            constants[name] = str(item)
        else:
            raise _Bad(f"{name} must be a single value (text, number or true/false)")
    return constants


def _credentials(value: object, _: _Context) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad('must be a table such as { OFFERGRID_API_KEY = "ACME_OFFERGRID_KEY" }')
    return {str(key): str(item) for key, item in value.items()}


def _out(value: object, context: _Context) -> str:
    template = _text(value, context)
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise _Bad(f"is not a folder template ({error}; write {{{{ for a literal brace)") from None
    unknown = sorted(fields - OUT_FIELDS)
    if unknown:
        raise _Bad(
            f"has an unknown placeholder {{{unknown[0]}}}: use {{job}}, {{date}} or {{stamp}}"
        )
    written = Path(template).expanduser()
    if written.is_absolute():
        return str(written)
    # The folder is joined in as text, so a brace in its name must not read as a placeholder.
    folder = str(context.folder).replace("{", "{{").replace("}", "}}")
    return str(Path(folder) / written)


def _threshold(value: object, _: _Context) -> FailureThreshold:
    try:
        return FailureThreshold.parse(value)
    except ThresholdError as error:
        raise _Bad(f"must be a row count such as 10 or a share such as 5% ({error})") from None


KEYS: Mapping[str, tuple[str, Convert]] = {
    "sheet": ("sheet", _path),
    "vendor": ("vendor", _vendor),
    "base_url": ("base_url", _text),
    "sandbox": ("sandbox", _flag),
    "account": ("account", _text),
    "mapping": ("mapping", _path),
    "worksheet": ("worksheet", _text),
    "header_row": ("header_row", _row_number),
    "set": ("constants", _constants),
    "concurrency": ("concurrency", _concurrency),
    "rate_limit": ("rate_limit", _rate),
    "time_budget": ("time_budget", _seconds),
    "state": ("state", _state),
    "out": ("out", _out),
    "credentials": ("credentials", _credentials),
    "fail_if_failed_over": ("fail_if_failed_over", _threshold),
    "extras_to_open_object": ("extras_to_open_object", _flag),
    "resend_rejected": ("resend_rejected", _flag),
}
"""Each key a job (or [defaults]) may hold: the Job field it fills and how its value is read."""


def _job(name: str, table: object, defaults: Mapping[str, Any], where: _Locator) -> Job:
    """Return the job of ``[job.NAME]``, its missing keys taken from ``[defaults]``."""
    header = ("job", name)
    if not NAME.fullmatch(name):
        raise where.error(
            header,
            f"job name {name!r} must be letters, digits, '_', '.' or '-' "
            "(at most 64), starting with a letter or digit: it may name a folder",
        )
    own = _table(table, header, where)
    given: dict[str, tuple[object, tuple[str, ...]]] = {
        key: (value, ("defaults", key)) for key, value in defaults.items()
    }
    given.update((key, (value, (*header, key))) for key, value in own.items())
    context = _Context(where.path.parent.resolve())
    values: dict[str, Any] = {}
    for key, (value, key_path) in given.items():
        if key not in KEYS:
            raise where.error(key_path, _unknown_key(key))
        target, convert = KEYS[key]
        try:
            values[target] = convert(value, context)
        except _Bad as problem:
            raise where.error(key_path, f"{key} {problem}") from None
    for required in ("sheet", "vendor"):
        if required not in values:
            raise where.error(header, f"needs {required} = ...")
    if values.get("base_url") and values.get("sandbox"):
        raise where.error(header, "gives both base_url and sandbox = true; keep one")
    values.setdefault("out", _out(DEFAULT_OUT, context))
    _check_credentials(values, given, where)
    return Job(name=name, file=where.path, **values)


def _unknown_key(key: str) -> str:
    near = get_close_matches(key, list(KEYS), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"unknown key {key!r}{hint}; a job's keys: {', '.join(KEYS)}"


def _check_credentials(
    values: Mapping[str, Any], given: Mapping[str, tuple[object, tuple[str, ...]]], where: _Locator
) -> None:
    """Refuse a credentials entry for a variable the job's vendor does not read."""
    if not values.get("credentials"):
        return
    contract = load_contract(values["vendor"])
    wanted = contract.credential_vars
    for variable in values["credentials"]:
        if variable not in wanted:
            _, key_path = given["credentials"]
            raise where.error(
                (*key_path, variable),
                f"credentials names {variable}, which {contract.id} does not read; it reads "
                f"{', '.join(wanted)}",
            )


class _Locator:
    """Find the line a key is written on, for messages (TOML parsers do not say)."""

    def __init__(self, path: Path, text: str) -> None:
        """Remember the file's lines."""
        self.path = path
        self._lines = text.splitlines()

    def error(self, key_path: tuple[str, ...], problem: str) -> JobFileError:
        """Return the error for a problem at ``key_path``, naming the file, line and table."""
        line = self.line(key_path)
        at = f" line {line}" if line else ""
        table = _table_name(key_path)
        return JobFileError(f"{self.path.name}{at}: {table}{problem}")

    def line(self, key_path: tuple[str, ...]) -> int | None:
        """Return the 1-based line of the deepest part of ``key_path`` found, or None."""
        header = self._header(key_path, 0, len(self._lines))
        if header is not None:
            return header + 1
        for split in range(len(key_path) - 1, -1, -1):
            table, key = key_path[:split], key_path[split]
            section = self._section(table)
            if section is None:
                continue
            start, end = section
            pattern = re.compile(rf"\s*{_key_pattern(key)}\s*[=.]")
            for index in range(start, end):
                if pattern.match(self._lines[index]):
                    return index + 1
            if table and start > 0:
                return start  # the table's header line
        return None

    def _section(self, table: tuple[str, ...]) -> tuple[int, int] | None:
        """Return the lines of a table's body (from after its header to the next header)."""
        if not table:
            start = 0
        else:
            header = self._header(table, 0, len(self._lines))
            if header is None:
                return None
            start = header + 1
        end = next(
            (i for i in range(start, len(self._lines)) if re.match(r"\s*\[", self._lines[i])),
            len(self._lines),
        )
        return start, end

    def _header(self, table: tuple[str, ...], start: int, end: int) -> int | None:
        parts = r"\s*\.\s*".join(_key_pattern(part) for part in table)
        pattern = re.compile(rf"\s*\[\[?\s*{parts}\s*\]\]?\s*(#.*)?$")
        return next((i for i in range(start, end) if pattern.match(self._lines[i])), None)


def _key_pattern(key: str) -> str:
    escaped = re.escape(key)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


def _table_name(key_path: tuple[str, ...]) -> str:
    if key_path[:1] == ("job",) and len(key_path) >= 2:
        return f"[job.{key_path[1]}] "
    if key_path[:1] == ("defaults",):
        return "[defaults] "
    return ""
