"""The `sandbox` command: serve a local emulator of a vendor."""

from __future__ import annotations

import sys

import click

from importer.cli.console import fail
from importer.cli.params import RateType, contract_for
from importer.contracts.contract import RateLimit


@click.command()
@click.argument("vendor")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port to listen on; 0 picks one.")
@click.option(
    "--empty",
    is_flag=True,
    help="Start with no existing records (by default the sandbox already holds a few people, "
    "so imports meet 409s).",
)
@click.option(
    "--latency-ms",
    type=click.IntRange(0),
    default=0,
    help="Delay every answer by N ms, plus up to 50% jitter.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Answer this fraction of requests with a 500 (nothing stored).",
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Store this fraction of records, then drop the connection before answering.",
)
@click.option(
    "--rate-limit",
    type=RateType(),
    default=None,
    help="Answer 429 with Retry-After beyond this rate, e.g. 100/min.",
)
@click.option(
    "--auth-fail-after",
    type=click.IntRange(0),
    default=None,
    help="Refuse the credentials (401) after N requests.",
)
@click.option("--seed", type=int, default=None, help="Seed the fault dice for repeatable runs.")
def sandbox(  # noqa: PLR0917 (click passes every option)
    vendor: str,
    host: str,
    port: int,
    empty: bool,
    latency_ms: int,
    fail_rate: float,
    drop_rate: float,
    rate_limit: RateLimit | None,
    auth_fail_after: int | None,
    seed: int | None,
) -> None:
    """Serve a local emulator of VENDOR until Ctrl-C (SIGINT) or SIGTERM.

    Once it accepts connections it prints its base URL. GET /__sandbox__/records lists the
    records it stored, each exactly as received. Its credentials are in sample_data/sandbox.env.
    Faults are off unless asked for.
    """
    from importer.sandbox import SandboxOptions, serve  # noqa: PLC0415 (aiohttp's server)

    contract = contract_for(vendor)
    options = SandboxOptions(
        preload=not empty,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        drop_rate=drop_rate,
        rate_limit=(rate_limit.requests, rate_limit.per_seconds) if rate_limit else None,
        auth_fail_after=auth_fail_after,
        seed=seed,
    )

    def announce(url: str) -> None:
        click.echo(f"sandbox {contract.id} listening on {url} (Ctrl-C to stop)")
        sys.stdout.flush()

    try:
        serve(contract, host=host, port=port, options=options, announce=announce)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}")
