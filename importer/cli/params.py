"""Click parameter types and helpers that turn command-line words into library values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from importer.cli.console import fail
from importer.contracts.contract import Contract, RateLimit, load_contract
from importer.errors import ConfigError
from importer.jobs.threshold import FailureThreshold, ThresholdError
from importer.ledger import is_database_url
from importer.pipeline.run import default_state_dir
from importer.read.limits import FLAGS, MIB, ReadLimits


class RateType(click.ParamType):  # type: ignore[type-arg]
    """A rate such as ``100/min``, ``5/s`` or ``10000/h``."""

    name = "N/UNIT"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> RateLimit:
        """Parse ``N/unit`` into a RateLimit."""
        if isinstance(value, RateLimit):
            return value
        try:
            return RateLimit.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


class ThresholdType(click.ParamType):  # type: ignore[type-arg]
    """A failure threshold: a row count such as ``10`` or a share such as ``5%``."""

    name = "N|N%"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> FailureThreshold:
        """Parse ``10`` or ``5%`` into a FailureThreshold."""
        if isinstance(value, FailureThreshold):
            return value
        try:
            return FailureThreshold.parse(str(value))
        except ThresholdError as error:
            self.fail(str(error), param, ctx)


def contract_for(vendor: str) -> Contract:
    """Load VENDOR's contract, or exit with code 2 naming what is wrong."""
    try:
        return load_contract(vendor)
    except ConfigError as error:
        fail(str(error))


class StateType(click.ParamType):  # type: ignore[type-arg]
    """Where the ledger lives: a folder, or a ``postgresql://`` (or ``postgres://``) URL."""

    name = "DIR|URL"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | str:
        """Return a database URL as it is (a Path would fold its ``//``), anything else a Path."""
        if isinstance(value, Path):
            return value
        text = str(value)
        return text.strip() if is_database_url(text) else Path(text)


state_option = click.option(
    "--state",
    "state_dir",
    type=StateType(),
    help="Folder of the ledger that remembers every row sent, so nothing is sent twice "
    f"(default: {default_state_dir()}; a run with --sandbox and no --state uses a temporary "
    "one), or a PostgreSQL database, postgresql://USER@HOST/DB, shared by workers on any "
    "machine (the password: PGPASSWORD, ~/.pgpass or the URL; never shown).",
)
"""The ``--state`` option every command that reads or writes the ledger takes."""


def assignments(
    _ctx: click.Context | None, _param: click.Parameter | None, pairs: Sequence[str]
) -> dict[str, str]:
    """Return ``--set FIELD=VALUE`` pairs as a dict (a click callback).

    A pair with no ``=`` or no field ends the command with a one-line error (exit 2).
    """
    constants: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            fail(f"--set needs FIELD=VALUE, got {pair!r}")
        constants[field.strip()] = value
    return constants


def sheet_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that say how to read and map a sheet: run, inspect and plan share them.

    The command receives ``constants`` (a dict), ``mapping_file``, ``sheet_name``,
    ``header_row`` and ``extras_to_open_object``.
    """
    options = [
        click.option(
            "--set",
            "constants",
            multiple=True,
            metavar="FIELD=VALUE",
            callback=assignments,
            help="Give FIELD the same VALUE on every row (repeatable); wins over a column.",
        ),
        click.option(
            "--mapping",
            "mapping_file",
            type=click.Path(path_type=Path),
            help="YAML/JSON file mapping vendor fields to sheet columns (importer inspect "
            "--write-mapping writes one to start from).",
        ),
        click.option(
            "--sheet",
            "sheet_name",
            metavar="NAME",
            help="Worksheet of a workbook to read (default: the first visible one).",
        ),
        click.option(
            "--header-row",
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help="The row that names the columns, as the spreadsheet app numbers it (default: "
            "found: the first row, unless rows above the table look like a title).",
        ),
        click.option(
            "--extras-to-open-object",
            is_flag=True,
            help="Send columns that fill no field into the vendor's open object (e.g. "
            "customFields), keyed by their header.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


_LIMITS = {
    "max_file_bytes": (MIB, "Read no file larger than N MB"),
    "max_unzipped_bytes": (
        MIB,
        "Refuse a workbook that unpacks to more than N MB; reading a sheet takes about twice "
        "its unpacked size in memory",
    ),
    "max_zip_ratio": (1, "Refuse a workbook part compressed more than N to 1, like a zip bomb"),
    "max_sheet_cells": (
        1,
        "Refuse a workbook sheet whose used range holds more than N cells; each takes about "
        "90 bytes of memory",
    ),
    "max_rows": (1, "Read no row past row N"),
    "max_columns": (1, "Refuse a header of more than N columns"),
    "max_cell_chars": (1, "Fail a row with a cell of more than N characters"),
    "max_row_chars": (1, "Fail a CSV row of more than N characters"),
}
"""The limits run and inspect can raise: ReadLimits field -> (its option's unit, help)."""


def limit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per read limit, e.g. --max-cell-chars N, with its default in the help."""
    defaults = ReadLimits()
    for name, (scale, text) in reversed(_LIMITS.items()):
        default = getattr(defaults, name) // scale
        command = click.option(
            FLAGS[name],
            name,
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help=f"{text} (default {default:,}).",
        )(command)
    return command


def read_limits(values: Mapping[str, int | None]) -> ReadLimits:
    """Return the read limits, raised where an option says so."""
    given = {name: value * _LIMITS[name][0] for name, value in values.items() if value is not None}
    return ReadLimits(**given)
