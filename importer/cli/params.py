"""Click parameter types and helpers that turn command-line words into library values."""

from __future__ import annotations

from pathlib import Path
import click

from importer.cli.console import fail
from importer.contracts.contract import Contract, RateLimit, load_contract
from importer.errors import ConfigError


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
