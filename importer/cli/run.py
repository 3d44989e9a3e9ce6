"""The `run` command: import a sheet into a vendor and report every row."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from importer.cli.console import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_OVER_THRESHOLD,
    EXIT_ROWS_FAILED,
    Console,
    ConsoleObserver,
    credential_values,
    log_options,
)
from importer.cli.params import (
    RateType,
    ThresholdType,
    limit_options,
    read_limits,
    sheet_options,
    state_option,
)
from importer.config import RunConfig
from importer.contracts.contract import RateLimit, load_contract
from importer.errors import ImporterError
from importer.jobs.threshold import FailureThreshold
from importer.ledger import state_shown
from importer.lifecycle import account_of
from importer.pipeline.run import RunResult, run_import
from importer.push.settings import PushSettings
from importer.report.writer import ReportFiles


@click.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--vendor", required=True, metavar="ID", help="Vendor id (see `importer vendors`).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the report (created if needed): summary.json, rows.csv, report.xlsx, "
    "report.html and the rows to fix.",
)
@click.option("--base-url", help="Vendor API base URL (default: the vendor's production URL).")
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Start an embedded sandbox of the vendor and import into it.",
)
@state_option
@click.option(
    "--account",
    help="Name the vendor account in the ledger (default: the vendor's base URL, normalized: "
    "a rotated key, a trailing / or :443 is still the same account).",
)
@sheet_options
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
@click.option("--resend-unknown", is_flag=True, hidden=True)
@click.option(
    "--fail-if-failed-over",
    type=ThresholdType(),
    default=None,
    metavar="N|N%",
    help="Exit with 3 when more rows failed than N, or than N% of the sheet's data rows.",
)
@log_options
@limit_options
def run(  # noqa: PLR0917 (click passes every option)
    sheet: Path,
    vendor: str,
    out_dir: Path,
    base_url: str | None,
    use_sandbox: bool,
    state_dir: Path | str | None,
    account: str | None,
    constants: dict[str, str],
    mapping_file: Path | None,
    sheet_name: str | None,
    header_row: int | None,
    concurrency: int,
    dry_run: bool,
    rate_limit: RateLimit | None,
    time_budget: float | None,
    resend_rejected: bool,
    resend_unknown: bool,
    extras_to_open_object: bool,
    fail_if_failed_over: FailureThreshold | None,
    log_format: str,
    verbose: bool,
    **limits: int | None,
) -> None:
    """Import SHEET (CSV or XLSX) into VENDOR and write a report of every row to --out.

    Exit codes: 0 no row failed; 1 some rows failed; 2 the run could not start or was aborted;
    3 more rows failed than --fail-if-failed-over allows.
    """
    console = Console.open(
        log_format, verbose=verbose, secrets=credential_values(os.environ)
    ).redacting((), urls=[base_url])
    if base_url and use_sandbox:
        console.fail("give either --base-url or --sandbox, not both")
    if resend_unknown:
        console.fail(
            "--resend-unknown is gone: it re-sent rows the vendor may hold. Check them at the "
            "vendor, mark each in the run's unknown.csv (found: there or missing) and run "
            "'importer settle unknown.csv'; the next run sends only the missing ones"
        )
    if account is not None and not account.strip():
        console.fail("--account needs a name, e.g. --account acme-production")
    config = RunConfig(
        sheet_path=sheet,
        vendor=vendor,
        out_dir=out_dir,
        base_url=base_url,
        use_sandbox=use_sandbox,
        state_dir=state_dir,
        constants=constants,
        mapping_file=mapping_file,
        sheet_name=sheet_name,
        header_row=header_row,
        dry_run=dry_run,
        extras_to_open_object=extras_to_open_object,
        resend_rejected=resend_rejected,
        account=account.strip() if account else None,
        rate_limit=rate_limit,
        push=PushSettings(concurrency=concurrency, max_run_seconds=time_budget),
        limits=read_limits(limits),
    )
    sys.exit(execute(config, console, env=os.environ, threshold=fail_if_failed_over).exit_code)


@dataclass(frozen=True, slots=True)
class Ending:
    """How one run ended, for the command's exit code (and a sync's summary)."""

    result: RunResult | None
    """None when the run could not start."""
    exit_code: int
    problem: str | None = None
    """Why it could not start, was aborted, or crossed its threshold."""
    interrupted: bool = False
    """Ctrl-C or SIGTERM stopped it: a sync runs no further job."""


INTERRUPTED = "the run was interrupted"
"""How a run stopped by Ctrl-C or SIGTERM words its abort reason (importer.pipeline.run)."""


def execute(
    config: RunConfig,
    console: Console,
    *,
    env: Mapping[str, str],
    threshold: FailureThreshold | None = None,
) -> Ending:
    """Run one import, show its progress and its end, and return how it ended."""
    observer = ConsoleObserver(console=console, started=_facts(config))
    try:
        result = run_import(config, env=env, observer=observer)
    except ImporterError as error:
        observer.finish()
        console.error(str(error))
        return Ending(None, EXIT_ABORTED, str(error))
    except KeyboardInterrupt:
        observer.finish()
        console.error("interrupted")
        return Ending(None, EXIT_ABORTED, "interrupted", interrupted=True)
    observer.finish()
    over = threshold.crossed(result.totals) if threshold and not result.aborted else None
    code = EXIT_OVER_THRESHOLD if over else result.exit_code
    _render(console, result, config.state_dir, code)
    if over:
        console.error(f"over the failure threshold: {over}")
    interrupted = bool(result.aborted and result.aborted.startswith(INTERRUPTED))
    return Ending(result, code, result.aborted or over, interrupted)


def _facts(config: RunConfig) -> dict[str, Any]:
    """Return what the ``started`` event says about a run: vendor, file, where, account."""
    base_url = config.base_url
    if not base_url and not config.use_sandbox and not config.dry_run:
        try:
            base_url = load_contract(config.vendor).production_url
        except ImporterError:
            base_url = None
    account = config.account or (account_of(base_url) if base_url else None)
    return {
        "vendor": config.vendor,
        "file": str(config.sheet_path.resolve()),
        "base_url": "the embedded sandbox" if config.use_sandbox else base_url,
        "account": account,
        "out": str(config.out_dir),
        "state": state_shown(config.state_dir) if config.state_dir else None,
        "dry_run": config.dry_run,
    }


def _render(console: Console, result: RunResult, state_dir: Path | str | None, code: int) -> None:
    """Show how a run ended: totals, unused columns, top failure reasons and the report."""
    if result.aborted:
        console.error(f"run aborted: {result.aborted}")
    top = result.totals.top_failures(None if console.verbose else 5)
    if console.json:
        _emit_finished(console, result, code, top)
        return
    totals = result.totals.as_dict()
    if console.live:
        _totals_table(console, totals)
    else:
        parts = ", ".join(f"{name} {count}" for name, count in totals.items() if name != "rows")
        console.line(f"{totals['rows']} rows: {parts}")
    if result.unmapped_columns:
        unused = ", ".join(result.unmapped_columns)
        console.line(f"unused columns: {unused} (no field took them; see --mapping)")
    if top and console.live:
        console.line("top failure reasons:")
        for problem, rows in top:
            console.line(f"  {rows:>7,}  {problem}")
    elif top:
        console.line("top failure reasons: " + "; ".join(f"{rows} {p}" for p, rows in top))
    _report_lines(console, result, state_dir)


def _report_lines(console: Console, result: RunResult, state_dir: Path | str | None) -> None:
    """Show where the report's files are, one line each."""
    if result.files.report_xlsx is not None:
        console.line(f"report: {result.files.report_xlsx}")
    if result.files.report_html is not None:
        console.line(f"html:   {result.files.report_html}")
    for note in result.files.notes:
        console.line(f"note: {note}")
    console.line(f"rows:   {result.files.rows_csv}")
    if result.files.to_fix_csv is not None:
        both = f"{result.files.to_fix_xlsx} or " if result.files.to_fix_xlsx else ""
        console.line(
            f"to fix: {both}{result.files.to_fix_csv} (the failed rows: fix them in either, "
            "save, and import that file again)"
        )
    console.line(f"summary: {result.files.summary_json}")
    if result.files.unknown_csv is not None:
        state = f" --state {state_shown(state_dir)}" if state_dir else ""
        console.line(
            f"unknown: {result.files.unknown_csv} (check these rows at the vendor, write there "
            f"or missing in 'found', then run: importer settle {result.files.unknown_csv}{state})"
        )


def _emit_finished(
    console: Console, result: RunResult, code: int, top: Sequence[tuple[str, int]]
) -> None:
    """Write the ``finished`` event: totals, reasons, unused columns, report files."""
    totals = result.totals.as_dict()
    parts = ", ".join(f"{name} {count}" for name, count in totals.items() if name != "rows")
    console.emit(
        "finished",
        f"{totals['rows']} rows: {parts}",
        level={EXIT_OK: "info", EXIT_ROWS_FAILED: "warning"}.get(code, "error"),
        run_id=result.run_id,
        exit_code=code,
        totals=totals,
        reasons=dict(result.totals.by_reason),
        top_failures=[{"problem": problem, "rows": rows} for problem, rows in top],
        unmapped_columns=list(result.unmapped_columns),
        files=_files(result.files),
        notes=list(result.files.notes),
        aborted=result.aborted,
    )


def _totals_table(console: Console, totals: Mapping[str, int]) -> None:
    """Show the totals as a small table (on a terminal)."""
    width = max(len(f"{count:,}") for count in totals.values())
    for name, count in totals.items():
        if name == "rows":
            continue
        console.line(f"  {name:<11}{count:>{width},}")
    console.line(f"  {'─' * (11 + width)}")
    console.line(f"  {'rows':<11}{totals['rows']:>{width},}")


def _files(files: ReportFiles) -> dict[str, str]:
    """Return the report's files by name (summary_json, rows_csv...), those written only."""
    paths = {name: getattr(files, name) for name in ReportFiles.__dataclass_fields__}
    return {name: str(path) for name, path in paths.items() if isinstance(path, Path)}
