"""The pipeline: the one module that knows the order of the stages.

    read ──> map ──> validate ──> dedupe ──> push ──> report

Chunks of rows stream through; every input row leaves with exactly one outcome, and the report
is written chunk by chunk in input order.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandera.pandas as pa

from importer.auth import Credentials, credentials_from_env
from importer.body import build_records
from importer.contract import Contract, load_contract
from importer.dedupe import Deduper
from importer.errors import ConfigError
from importer.mapping import MappingPlan, apply_mapping, load_mapping_file, plan_mapping
from importer.model import Reason, RowOutcome, Status, Totals
from importer.progress import NullObserver, Observer
from importer.push import Pusher, PushSettings
from importer.read import Chunk, Sheet, open_sheet
from importer.report import ReportFiles, ReportWriter
from importer.sandbox import EmbeddedSandbox
from importer.validate import build_schema, validate_chunk


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything one import needs, assembled once at the edge (the CLI or a caller)."""

    sheet_path: Path
    vendor: str
    out_dir: Path
    base_url: str | None = None
    use_sandbox: bool = False
    state_dir: Path | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    mapping_file: Path | None = None
    sheet_name: str | None = None
    dry_run: bool = False
    extras_to_open_object: bool = False
    chunk_rows: int = 5_000
    push: PushSettings = field(default_factory=PushSettings)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did: its totals, its report files, and why it stopped early, if it did."""

    run_id: str
    totals: Totals
    files: ReportFiles
    aborted: str | None

    @property
    def exit_code(self) -> int:
        """Return 2 if the run was aborted, 1 if some rows failed, else 0."""
        if self.aborted:
            return 2
        return 1 if self.totals.failed else 0


@dataclass(slots=True)
class _Stages:
    """The per-run state of the stages between chunks."""

    contract: Contract
    plan: MappingPlan
    schema: pa.DataFrameSchema
    deduper: Deduper
    report: ReportWriter
    observer: Observer
    pusher: Pusher | None


def run_import(
    config: RunConfig, *, env: Mapping[str, str], observer: Observer | None = None
) -> RunResult:
    """Import one sheet into one vendor and write the report.

    Raises:
        ImporterError: when the run cannot start (bad vendor, file, mapping or credentials).
    """
    observer = observer or NullObserver()
    started = time.monotonic()
    contract = load_contract(config.vendor)
    sheet = open_sheet(config.sheet_path, sheet=config.sheet_name)
    explicit = load_mapping_file(config.mapping_file) if config.mapping_file else None
    plan = plan_mapping(
        sheet.columns,
        contract,
        explicit=explicit,
        constants=config.constants,
        extras_to_open_object=config.extras_to_open_object,
    )
    with ExitStack() as resources:
        base_url, credentials = _connect(config, contract, env, resources, observer)
        run_id = _run_id()
        report = ReportWriter(config.out_dir, sheet.columns)
        resources.callback(report.abort)
        stages = _Stages(
            contract=contract,
            plan=plan,
            schema=build_schema(contract),
            deduper=Deduper(contract.dedupe_key),
            report=report,
            observer=observer,
            pusher=None,
        )
        push_started = time.monotonic()
        aborted = asyncio.run(_stream(config, sheet, stages, base_url, credentials))
        meta = _meta(
            config,
            contract=contract,
            sheet=sheet,
            plan=plan,
            run_id=run_id,
            base_url=base_url,
            aborted=aborted,
        )
        finished = time.monotonic()
        meta["durations_seconds"] = {
            "total": round(finished - started, 3),
            "stream": round(finished - push_started, 3),
        }
        files = report.finish(meta)
    return RunResult(run_id, report.totals, files, aborted)


def _connect(
    config: RunConfig,
    contract: Contract,
    env: Mapping[str, str],
    resources: ExitStack,
    observer: Observer,
) -> tuple[str | None, Credentials | None]:
    """Resolve where to send and with what credentials, starting the sandbox if asked."""
    if config.dry_run:
        return None, None
    if config.use_sandbox:
        sandbox = resources.enter_context(EmbeddedSandbox(contract))
        observer.note(f"embedded sandbox for {contract.id} at {sandbox.base_url}")
        fallback = contract.auth.sandbox_credentials
        return sandbox.base_url, credentials_from_env(contract, env, fallback=fallback)
    base_url = config.base_url or contract.production_url
    if not base_url:
        raise ConfigError(f"{contract.id} has no production URL: give --base-url or --sandbox")
    return base_url, credentials_from_env(contract, env)


async def _stream(
    config: RunConfig,
    sheet: Sheet,
    stages: _Stages,
    base_url: str | None,
    credentials: Credentials | None,
) -> str | None:
    """Run every chunk through the stages; return the abort reason, if the run was aborted."""
    async with AsyncExitStack() as stack:
        if base_url is not None and credentials is not None:
            stages.pusher = await stack.enter_async_context(
                Pusher(
                    contract=stages.contract,
                    base_url=base_url,
                    credentials=credentials,
                    settings=config.push,
                    on_outcome=lambda outcome: stages.observer.rows_done([outcome]),
                )
            )
        for chunk in sheet.chunks(config.chunk_rows):
            outcomes = await _process(chunk, stages)
            stages.report.write(chunk.frame, outcomes)
        return stages.pusher.abort_reason if stages.pusher else None


async def _process(chunk: Chunk, stages: _Stages) -> dict[int, RowOutcome]:
    """Take one chunk through map, validate, dedupe and push; return every row's outcome."""
    outcomes: dict[int, RowOutcome] = {}
    frame = chunk.frame.drop(index=list(chunk.malformed))
    for row, message in chunk.malformed.items():
        outcomes[row] = RowOutcome(row, Status.FAILED, Reason.MALFORMED_ROW, message)
    mapped = apply_mapping(frame, stages.plan, stages.contract)
    validated = validate_chunk(mapped, stages.schema)
    for row, message in validated.failures.items():
        outcomes[row] = RowOutcome(row, Status.FAILED, Reason.VALIDATION, message)
    deduped = stages.deduper.split(validated.valid)
    for row, kept in deduped.duplicates.items():
        outcomes[row] = RowOutcome(
            row,
            Status.DUPLICATE,
            Reason.DUPLICATE_IN_FILE,
            f"same key as row {kept}, which was kept",
        )
    stages.observer.rows_done(outcomes.values())
    records = build_records(deduped.kept, stages.contract)
    if stages.pusher is None:
        sent = {
            record.source_row: RowOutcome(
                record.source_row, Status.SKIPPED, Reason.DRY_RUN, "dry run: valid, not sent"
            )
            for record in records
        }
        stages.observer.rows_done(sent.values())
    else:
        sent = await stages.pusher.push(records)
    outcomes.update(sent)
    return outcomes


def _meta(
    config: RunConfig,
    *,
    contract: Contract,
    sheet: Sheet,
    plan: MappingPlan,
    run_id: str,
    base_url: str | None,
    aborted: str | None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "vendor": contract.id,
        "endpoint": f"{contract.method} {contract.path}",
        "base_url": _safe_url(base_url) if base_url else None,
        "sandbox": config.use_sandbox,
        "dry_run": config.dry_run,
        "source_file": str(config.sheet_path.resolve()),
        "sheet": sheet.sheet_name,
        "encoding": sheet.encoding,
        "delimiter": sheet.delimiter,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mapping": plan.describe(),
        "unmapped_columns": list(plan.unmapped),
        "aborted": aborted,
    }


def _run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def _safe_url(url: str) -> str:
    """Drop any user:password and query string from a URL before it is written anywhere."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
