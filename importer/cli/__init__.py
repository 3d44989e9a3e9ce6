"""The command line: parse, build the config, call the library, render, pick the exit code.

Exit codes: 0 no row failed; 1 some rows failed; 2 the run could not start or was aborted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, NoReturn

import click

from importer.contracts.contract import Contract, FieldSpec, RateLimit, load_all, load_contract
from importer.errors import ConfigError, ImporterError
from importer.lifecycle import RowOutcome, Status
from importer.pipeline.run import RunConfig, RunResult, run_import
from importer.push.workers import PushSettings
from importer.sandbox import SandboxOptions, serve

EXIT_OK, EXIT_ROWS_FAILED, EXIT_ABORTED = 0, 1, 2
BAR_WIDTH = 24


class ConsoleObserver:
    """Show progress: a live line on a terminal, a plain log line now and then otherwise."""

    def __init__(self, *, live: bool, every_seconds: float = 5.0) -> None:
        """Render live (``\\r``-updated) when ``live``, else log every ``every_seconds``."""
        self._live = live
        self._every = every_seconds
        self._counts = dict.fromkeys((status.value for status in Status), 0)
        self._started = time.monotonic()
        self._last = 0.0
        self._total: int | None = None

    def note(self, message: str) -> None:
        """Print a note on its own line."""
        self._clear()
        click.echo(f"importer: {message}", err=True)

    def started(self, total_rows: int | None) -> None:
        """Remember the estimate, to draw a bar against it."""
        self._total = total_rows or None

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        """Count the outcomes and redraw the progress line when it is time."""
        for outcome in outcomes:
            self._counts[outcome.status.value] += 1
        now = time.monotonic()
        if now - self._last >= (0.1 if self._live else self._every):
            self._last = now
            self._render()

    def finish(self) -> None:
        """End the live line."""
        self._clear()

    def _render(self) -> None:
        done = sum(self._counts.values())
        if not done:
            return
        rate = done / max(time.monotonic() - self._started, 1e-6)
        counts = ", ".join(f"{name} {count}" for name, count in self._counts.items() if count)
        line = f"{done:,} rows done ({rate:,.0f}/s): {counts}"
        if self._total:
            share = min(1.0, done / self._total)
            filled = round(share * BAR_WIDTH)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            line = f"[{bar}] {share:4.0%} {line}"
        if self._live:
            click.echo(f"\r\x1b[2K{line}", nl=False, err=True)
        else:
            click.echo(f"importer: progress {line}", err=True)

    def _clear(self) -> None:
        if self._live:
            click.echo("\r\x1b[2K", nl=False, err=True)


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


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit with code 2."""
    click.echo(f"importer: error: {message}", err=True)
    sys.exit(EXIT_ABORTED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="importer")
def main() -> None:
    """Import CSV and Excel sheets into vendors' HTTP APIs, accounting for every row.

    Exit codes: 0 no row failed, 1 some rows failed, 2 the run could not start or was aborted.
    """


@main.command()
def vendors() -> None:
    """List every vendor with its endpoint and the variables that hold its credentials."""
    for contract in load_all():
        variables = ", ".join(contract.credential_vars)
        click.echo(f"{contract.id}\t{contract.method} {contract.path}\t{variables}")
        click.echo(f"  {contract.title}: {contract.description}")


@main.command()
@click.argument("vendor")
def fields(vendor: str) -> None:
    """List VENDOR's fields: what a sheet column, a mapping file or --set can fill.

    Required fields are marked with *; a header matches a field by its name or dotted path
    (any case, spaces or punctuation), by the aliases listed, or by common CRM-export names.
    """
    contract = _contract(vendor)
    for spec in contract.fields:
        click.echo(f"{'*' if spec.required else ' '} {spec.path}\t{_rules(spec)}")
    if contract.open_object:
        click.echo(f"  {contract.open_object}.KEY\tany text (open object)")


def _rules(spec: FieldSpec) -> str:
    """Describe a field's rules in a few words."""
    words = [spec.type]
    low, high = spec.min_length, spec.max_length
    if low is not None and high is not None:
        words.append(f"{low} to {high} characters")
    elif high is not None:
        words.append(f"at most {high} characters")
    elif low is not None:
        words.append(f"at least {low} characters")
    if spec.enum:
        words.append(f"one of {'|'.join(spec.enum)}")
    if spec.format:
        words.append(spec.format)
    if spec.concept:
        words.append(f"CRM headers for {spec.concept}")
    if spec.aliases:
        words.append(f"aliases: {', '.join(spec.aliases)}")
    return "; ".join(words)


@main.command()
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
    contract = _contract(vendor)
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


@main.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--vendor", required=True, help="Vendor id (see `importer vendors`).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for summary.json, rows.csv and report.xlsx.",
)
@click.option("--base-url", help="Vendor API base URL (default: the vendor's production URL).")
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Start an embedded sandbox of the vendor and import into it.",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path),
    help="Folder for the run's state (the ledger of a later release).",
)
@click.option(
    "--set",
    "constants",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Give FIELD the same VALUE on every row (repeatable).",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(path_type=Path),
    help="YAML/JSON file mapping vendor fields to sheet columns.",
)
@click.option("--sheet", "sheet_name", help="Worksheet to read (default: the first).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=PushSettings().concurrency,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option("--dry-run", is_flag=True, help="Read, map, validate and dedupe; send nothing.")
@click.option(
    "--rate-limit",
    type=RateType(),
    default=None,
    help="Client-side limit, e.g. 100/min (default: the vendor's documented limit on "
    "its production URL, none elsewhere).",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Send nothing new after SECONDS, nor wait past them; the rows left are 'deferred' "
    "and a re-run sends them first.",
)
@click.option(
    "--resend-rejected",
    is_flag=True,
    help="Send again rows the vendor refused in an earlier run, even if they did not change.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Send again rows whose outcome was unknown ('outcome_unknown'); use it only after "
    "checking at the vendor that it lacks them.",
)
@click.option(
    "--extras-to-open-object",
    is_flag=True,
    help="Send columns that fill no field into the vendor's open object (e.g. customFields), "
    "keyed by their header.",
)
def run(  # noqa: PLR0917 (click passes every option)
    sheet: Path,
    vendor: str,
    out_dir: Path,
    base_url: str | None,
    use_sandbox: bool,
    state_dir: Path | None,
    constants: Sequence[str],
    mapping_file: Path | None,
    sheet_name: str | None,
    concurrency: int,
    dry_run: bool,
    rate_limit: RateLimit | None,
    time_budget: float | None,
    resend_rejected: bool,
    resend_unknown: bool,
    extras_to_open_object: bool,
) -> None:
    """Import SHEET (CSV or XLSX) into VENDOR and write a report of every row to --out."""
    if base_url and use_sandbox:
        fail("give either --base-url or --sandbox, not both")
    config = RunConfig(
        sheet_path=sheet,
        vendor=vendor,
        out_dir=out_dir,
        base_url=base_url,
        use_sandbox=use_sandbox,
        state_dir=state_dir,
        constants=_constants(constants),
        mapping_file=mapping_file,
        sheet_name=sheet_name,
        dry_run=dry_run,
        extras_to_open_object=extras_to_open_object,
        resend_rejected=resend_rejected,
        resend_unknown=resend_unknown,
        rate_limit=rate_limit,
        push=PushSettings(concurrency=concurrency, max_run_seconds=time_budget),
    )
    observer = ConsoleObserver(live=sys.stderr.isatty())
    try:
        result = run_import(config, env=os.environ, observer=observer)
    except ImporterError as error:
        observer.finish()
        fail(str(error))
    except KeyboardInterrupt:
        observer.finish()
        fail("interrupted")
    observer.finish()
    _render(result)
    sys.exit(result.exit_code)


def _render(result: RunResult) -> None:
    totals = result.totals.as_dict()
    parts = ", ".join(f"{name} {count}" for name, count in totals.items() if name != "rows")
    click.echo(f"{totals['rows']} rows: {parts}")
    if result.aborted:
        click.echo(f"importer: error: run aborted: {result.aborted}", err=True)
    click.echo(f"report: {result.files.report_xlsx}")
    click.echo(f"rows:   {result.files.rows_csv}")
    click.echo(f"summary: {result.files.summary_json}")


def _constants(pairs: Sequence[str]) -> dict[str, str]:
    constants: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            fail(f"--set needs FIELD=VALUE, got {pair!r}")
        constants[field.strip()] = value
    return constants


def _contract(vendor: str) -> Contract:
    try:
        return load_contract(vendor)
    except ConfigError as error:
        fail(str(error))
