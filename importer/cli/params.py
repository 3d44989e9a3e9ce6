"""Click parameter types and helpers that turn command-line words into library values."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import click

from importer.cli.console import fail
from importer.contracts.contract import Contract, RateLimit, load_contract
from importer.errors import ConfigError


class RateType(click.ParamType):  # type: ignore[type-arg]
    """A rate such as ``100/min``, ``5/s`` or ``10000/h``."""

    name = "N/UNIT"
    units: ClassVar[dict[str, float]] = {
        "s": 1,
        "sec": 1,
        "min": 60,
        "m": 60,
        "h": 3600,
        "hour": 3600,
    }

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> RateLimit:
        """Parse ``N/unit`` into a RateLimit."""
        if isinstance(value, RateLimit):
            return value
        count, _, unit = str(value).strip().partition("/")
        try:
            requests = int(count)
            seconds = self.units[unit.strip().lower() or "min"]
        except (ValueError, KeyError):
            self.fail(f"{value!r} is not a rate like 100/min, 5/s or 10000/h", param, ctx)
        if requests < 1:
            self.fail("a rate needs at least 1 request", param, ctx)
        return RateLimit(requests, seconds)


def contract_for(vendor: str) -> Contract:
    """Load VENDOR's contract, or exit with code 2 naming what is wrong."""
    try:
        return load_contract(vendor)
    except ConfigError as error:
        fail(str(error))


state_option = click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path),
    help="Folder of the ledger that remembers every row sent, so nothing is sent twice "
    "(default: the user's state folder; with --sandbox, a temporary one).",
)
"""The ``--state`` option every command that reads or writes the ledger takes."""
