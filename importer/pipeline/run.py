"""The pipeline: the one module that knows the order of the stages.

    read ──> map ──> validate ──> dedupe ──> push ──> report

Chunks of rows stream through; every input row leaves with exactly one outcome, and the report
is written chunk by chunk in input order.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pandera.pandas as pa
import platformdirs

from importer.config import RunConfig
from importer.contracts.contract import Contract, RateLimit, load_contract
from importer.dedupe import Deduper
from importer.errors import ConfigError, InputError, MappingError
from importer.ledger import is_database_url, open_ledger, state_shown
from importer.ledger.books import Bookkeeper
from importer.ledger.interface import Ledger, Run
from importer.lifecycle import Reason, RowOutcome, State, account_of
from importer.mapping import (
    MappingPlan,
    apply_mapping,
    hold_back_misfits,
    load_mapping_file,
    plan_mapping,
    sheet_cells,
)
from importer.outcomes import ChunkOutcomes, SharedOutcome
from importer.payload import Record, build_records
from importer.pipeline.progress import NullObserver, Observer
from importer.pipeline.signals import stop_on_signals
from importer.push.auth import Credentials, credentials_from_env
from importer.push.throttle import Throttle
from importer.read import Chunk, Sheet, open_sheet
from importer.redact import safe_url
from importer.report.totals import Totals
from importer.report.writer import ReportFiles, ReportWriter
from importer.validate import build_schema, validate_chunk

if TYPE_CHECKING:  # the client, the sandbox and PostgreSQL load when a run needs them
    from importer.ledger.postgres import PostgresLedger
    from importer.push.workers import Pusher


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did: its totals, its report files, and why it stopped early, if it did."""

    run_id: str
    totals: Totals
    files: ReportFiles
    aborted: str | None
    unmapped_columns: tuple[str, ...] = ()
    """The sheet's columns that filled no field (summary.json's ``unmapped_columns``)."""

    @property
    def exit_code(self) -> int:
        """Return 2 if the run was aborted, 1 if some rows failed, else 0."""
        if self.aborted:
            return 2
        return 1 if self.totals.failed else 0


@dataclass(frozen=True, slots=True)
class Target:
    """Where a run sends, as whom, and the vendor account the ledger knows it by."""

    base_url: str
    credentials: Credentials
    account: str
    """The user's name for the account, else the normalized base URL; never a secret."""


@dataclass(slots=True)
class _Stages:
    """The per-run state of the stages between chunks."""

    contract: Contract
    plan: MappingPlan
    schema: pa.DataFrameSchema
    deduper: Deduper
    report: ReportWriter
    observer: Observer
    bookkeeper: Bookkeeper | None = None
    throttle: Throttle | None = None
    pusher: Pusher | None = None
    checked: bool = False
    """Whether the plan was checked against the first rows (``hold_back_misfits``)."""


def run_import(
    config: RunConfig, *, env: Mapping[str, str], observer: Observer | None = None
) -> RunResult:
    """Import one sheet into one vendor and write the report; block until it is done.

    Works whether or not an event loop is running in this thread (a notebook, an
    orchestrator's task): with one running, the import runs on a loop of its own in a worker
    thread.

    Raises:
        ImporterError: when the run cannot start (bad vendor, file, mapping or credentials,
            or another run of the vendor holds the state directory).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_import_async(config, env=env, observer=observer))
    with ThreadPoolExecutor(1, thread_name_prefix="importer") as pool:
        return pool.submit(
            asyncio.run, run_import_async(config, env=env, observer=observer)
        ).result()


async def run_import_async(
    config: RunConfig, *, env: Mapping[str, str], observer: Observer | None = None
) -> RunResult:
    """Import one sheet into one vendor and write the report, on the running event loop.

    The stages' file and CPU work between requests runs on this loop, a chunk at a time; an
    orchestrator that shares its loop with other tasks should give the import its own loop
    (``run_import`` in a thread does).

    Raises:
        ImporterError: when the run cannot start (bad vendor, file, mapping or credentials,
            or another run of the vendor holds the state directory).
    """
    observer = observer or NullObserver()
    started = time.monotonic()
    contract, sheet, plan = plan_import(config)
    schema = build_schema(contract)
    _check_constants(plan, contract, schema)
    run_id = _run_id()
    with ExitStack() as resources:
        target = _connect(config, contract, env, resources, observer)
        ledger = _open_ledger(config, contract, target, resources) if target else None
        columns = [column for column in sheet.columns if column not in plan.tool_columns]
        report = ReportWriter(config.out_dir, columns, run_id=run_id)
        resources.callback(report.abort)
        expected_rows = sheet.estimated_rows()
        stages = _Stages(
            contract=contract,
            plan=plan,
            schema=schema,
            deduper=Deduper.for_contract(contract, expected_keys=expected_rows),
            report=report,
            observer=observer,
        )
        resources.callback(stages.deduper.close)
        if target is not None and ledger is not None:
            ledger.begin_run(_history(config, contract, sheet, run_id, ledger.account))
            _wrap_push(stages, config, target, run_id, ledger)
        stream_started = time.monotonic()
        observer.started(expected_rows)
        for note in (*sheet.notes, *_plan_notes(plan)):
            observer.note(note)
        aborted = await _stream(config, sheet, stages, target)
        if not report.totals.rows:
            observer.note(f"{config.sheet_path.name} has a header row but no data rows")
        meta = _meta(
            config,
            contract=contract,
            sheet=sheet,
            plan=stages.plan,
            run_id=run_id,
            target=target,
            aborted=aborted,
        )
        if stages.throttle is not None:
            meta["throttled_429"] = stages.throttle.throttled
        finished = time.monotonic()
        meta["durations_seconds"] = {
            "total": round(finished - started, 3),
            "stream": round(finished - stream_started, 3),
        }
        if stages.pusher is not None:
            meta["durations_seconds"]["push"] = round(stages.pusher.seconds, 3)
        files = report.finish(meta)
        if ledger is not None:
            ending = "aborted" if aborted else "finished"
            totals = {**report.totals.as_dict(), "reasons": dict(report.totals.by_reason)}
            ledger.end_run(run_id, ending=ending, totals=totals)
    return RunResult(run_id, report.totals, files, aborted, tuple(stages.plan.unmapped))


def _history(config: RunConfig, contract: Contract, sheet: Sheet, run_id: str, account: str) -> Run:
    """Return the ledger's record of this run: what was asked, never a secret."""
    return Run(
        run_id=run_id,
        vendor=contract.id,
        account=account,
        started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        source_file=str(config.sheet_path.resolve()),
        columns=tuple(sheet.columns),
        arguments=_arguments(config),
    )


def _arguments(config: RunConfig) -> dict[str, Any]:
    """Return the run's settings as plain values (the config holds no secret)."""
    settings = {
        name: getattr(config, name)
        for name in RunConfig.__dataclass_fields__
        if name not in ("push", "rate_limit", "base_url", "limits")
    }
    settings["limits"] = asdict(config.limits)
    settings["base_url"] = safe_url(config.base_url) if config.base_url else None
    if isinstance(config.state_dir, str):  # a database URL is recorded without its password
        settings["state_dir"] = state_shown(config.state_dir)
    settings["rate_limit"] = (
        f"{config.rate_limit.requests}/{config.rate_limit.per_seconds:g}s"
        if config.rate_limit
        else None
    )
    settings["concurrency"] = config.push.concurrency
    settings["time_budget_seconds"] = config.push.max_run_seconds
    settings["only_rows"] = None if config.only_rows is None else len(config.only_rows)
    return {
        key: str(value.resolve()) if isinstance(value, Path) else value
        for key, value in settings.items()
    }


def plan_import(config: RunConfig, *, require: bool = True) -> tuple[Contract, Sheet, MappingPlan]:
    """Load the contract, open the sheet and decide which column fills which field.

    Raises:
        ImporterError: when the vendor, the file or the mapping file is unusable, or (with
            ``require``) a required field has no column.
    """
    contract = load_contract(config.vendor)
    sheet = open_sheet(
        config.sheet_path,
        sheet=config.sheet_name,
        limits=config.limits,
        header_row=config.header_row,
    )
    explicit = load_mapping_file(config.mapping_file) if config.mapping_file else None
    try:
        plan = plan_mapping(
            sheet.columns,
            contract,
            explicit=explicit,
            constants=config.constants,
            extras_to_open_object=config.extras_to_open_object,
            require=require,
        )
    except MappingError as error:
        raise MappingError(f"{error} ({_describe_sheet(sheet)})") from None
    return contract, sheet, plan


def _open_ledger(
    config: RunConfig, contract: Contract, target: Target, resources: ExitStack
) -> Ledger:
    """Open the account's ledger and take the vendor's run lock, before anything is written."""
    state_dir: Path | str = config.state_dir or default_state_dir()
    if config.use_sandbox and config.state_dir is None:
        # The embedded sandbox forgets its records when the run ends; so does its ledger.
        state_dir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="importer-")))
    ledger = open_ledger(state_dir, vendor=contract.id, account=target.account)
    resources.callback(ledger.close)
    return ledger


def _wrap_push(
    stages: _Stages, config: RunConfig, target: Target, run_id: str, ledger: Ledger
) -> None:
    """Give push its wrappers: the ledger's bookkeeping and the throttle."""
    stages.bookkeeper = Bookkeeper(ledger, run_id=run_id, resend_rejected=config.resend_rejected)
    stages.throttle = Throttle(
        limits=client_rate_limits(config, stages.contract, target.base_url),
        max_concurrency=config.push.concurrency,
    )


def _describe_sheet(sheet: Sheet) -> str:
    where = f"sheet {sheet.sheet_name!r}" if sheet.sheet_name else sheet.path.name
    hint = "; --sheet reads another worksheet" if sheet.sheet_name else ""
    return f"{where} has the columns {', '.join(map(repr, sheet.columns))}{hint}"


def _check_constants(plan: MappingPlan, contract: Contract, schema: pa.DataFrameSchema) -> None:
    """Refuse a --set value the vendor would refuse on every row, before anything is sent.

    Raises:
        ConfigError: naming the field, the rule and the value.
    """
    if not plan.constants:
        return
    one_row = pd.DataFrame(index=pd.Index([0], name="source_row"))
    mapped = apply_mapping(one_row, replace(plan, columns={}, extras={}), contract)
    failures = validate_chunk(mapped, schema.select_columns(list(plan.constants))).failures
    if failures:
        raise ConfigError(f"--set value refused: {failures[0]}")


def _state_dir_shown(config: RunConfig, target: Target | None) -> str | None:
    if target is None:
        return None
    if config.use_sandbox and config.state_dir is None:
        return "(temporary, like the embedded sandbox)"
    return state_shown(config.state_dir or default_state_dir())


def default_state_dir() -> Path:
    """Return the user's state directory for importer (e.g. ~/.local/state/importer)."""
    return Path(platformdirs.user_state_dir("importer"))


def client_rate_limits(config: RunConfig, contract: Contract, base_url: str) -> list[RateLimit]:
    """Return the client-side limits: --rate-limit, else the vendor's own on its production URL."""
    if config.rate_limit is not None:
        return [config.rate_limit]
    production = (contract.production_url or "").rstrip("/")
    if production and safe_url(base_url).rstrip("/") == production:
        return list(contract.rate_limits)
    return []


def _connect(
    config: RunConfig,
    contract: Contract,
    env: Mapping[str, str],
    resources: ExitStack,
    observer: Observer,
) -> Target | None:
    """Resolve where to send and with what credentials, starting the sandbox if asked."""
    if config.dry_run:
        return None
    if config.use_sandbox:
        from importer.sandbox import EmbeddedSandbox  # noqa: PLC0415 (aiohttp's server)

        sandbox = resources.enter_context(EmbeddedSandbox(contract))
        observer.note(f"embedded sandbox for {contract.id} at {sandbox.base_url}")
        fallback = contract.auth.sandbox_credentials
        credentials = credentials_from_env(contract, env, fallback=fallback)
        return Target(sandbox.base_url, credentials, config.account or account_of(sandbox.base_url))
    base_url = config.base_url or contract.production_url
    if not base_url:
        raise ConfigError(f"{contract.id} has no production URL: give --base-url or --sandbox")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--base-url {safe_url(base_url)!r} is not an http(s) URL like https://host"
        )
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when asked)
    except ValueError:
        raise ConfigError(
            f"--base-url {safe_url(base_url)!r} has a port that is not a number from 1 to 65535"
        ) from None
    if parts.query or parts.fragment:
        raise ConfigError(
            f"--base-url {safe_url(base_url)!r} must not carry a query or fragment: give the "
            "vendor's base URL only, and credentials in the environment (see importer vendors)"
        )
    credentials = credentials_from_env(contract, env)
    return Target(base_url, credentials, config.account or account_of(base_url))


async def _stream(
    config: RunConfig, sheet: Sheet, stages: _Stages, target: Target | None
) -> str | None:
    """Run every chunk through the stages; return the abort reason, if the run was aborted."""
    async with AsyncExitStack() as stack:
        if target is not None:
            from importer.push.workers import Pusher  # noqa: PLC0415 (httpx and aiohttp)

            stages.pusher = await stack.enter_async_context(
                Pusher(
                    contract=stages.contract,
                    base_url=target.base_url,
                    credentials=target.credentials,
                    settings=config.push,
                    hooks=[stages.throttle] if stages.throttle else [],
                    books=stages.bookkeeper,
                    on_outcome=lambda outcome: stages.observer.rows_done([outcome]),
                )
            )
            stack.enter_context(stop_on_signals(_stopper(stages.pusher, stages.observer)))
        checker = _Checker(config, sheet, stages, asyncio.get_running_loop())
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="importer-check") as thread:
                ahead = asyncio.get_running_loop().run_in_executor(thread, checker.next)
                while (checked := await ahead) is not None:
                    # The next chunk is read and checked in the thread while this one is sent.
                    ahead = asyncio.get_running_loop().run_in_executor(thread, checker.next)
                    outcomes = await _process(checked, stages)
                    stages.report.write(checked.chunk.frame, outcomes)
        except InputError as error:
            if not stages.report.totals.rows:
                raise  # nothing was read, so nothing was sent: refuse the file as a whole
            # The rows before the problem keep their outcomes; the report says where it stopped.
            return f"{error}; the rows after it were not read"
        return stages.pusher.abort_reason if stages.pusher else None


def _stopper(pusher: Pusher, observer: Observer) -> Callable[[str], None]:
    """Return what a signal does to a run: finish the requests in flight, then report."""

    def stop(name: str) -> None:
        observer.note(f"{name}: finishing the requests in flight, then writing the report")
        pusher.stop(Reason.ABORTED, f"the run was interrupted ({name})")

    return stop


@dataclass(frozen=True, slots=True)
class _Checked:
    """A chunk through map and validate (and dedupe, when ``deduped``): the rows settled so far,
    and the rows kept."""

    chunk: Chunk
    outcomes: dict[int, RowOutcome]
    kept: pd.DataFrame
    deduped: bool


class _Checker:
    """Read and check a run's chunks in order, one per call, in a thread of their own.

    The stages' CPU work stays off the event loop, and a chunk is checked while the one before
    it is sent: the push does not wait for the sheet between chunks. A dry run sends nothing, so
    its loop has time to spare: there the chunks are deduped on the loop, in order, beside the
    report, which balances the two threads (the thread's read, map and validate were twice the
    loop's report at 1M rows).
    """

    def __init__(
        self,
        config: RunConfig,
        sheet: Sheet,
        stages: _Stages,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._config = config
        self._chunks = sheet.chunks(config.chunk_rows)
        self._stages = stages
        self._loop = loop
        self.dedupes = not config.dry_run

    def next(self) -> _Checked | None:
        """Return the next chunk with rows to import, checked; None after the last."""
        stages = self._stages
        for read in self._chunks:
            self._loop.call_soon_threadsafe(stages.observer.rows_read, len(read.frame))
            chunk = _prepared(read, self._config, stages)
            if chunk is None:
                continue
            outcomes, valid = map_and_validate(chunk, stages.plan, stages.contract, stages.schema)
            if self.dedupes:
                valid = dedupe_valid(valid, stages.deduper, outcomes)
            return _Checked(chunk, outcomes, valid, deduped=self.dedupes)
        return None


async def _process(checked: _Checked, stages: _Stages) -> Mapping[int, RowOutcome]:
    """Take one checked chunk through push; return every row's outcome."""
    chunk, outcomes, kept = checked.chunk, checked.outcomes, checked.kept
    if not checked.deduped:
        kept = dedupe_valid(kept, stages.deduper, outcomes)
    if stages.pusher is None or stages.bookkeeper is None:  # no request bodies in a dry run
        rows = np.asarray(kept.index, dtype=np.int64)
        dry = SharedOutcome(rows, State.SKIPPED, Reason.DRY_RUN, "dry run: valid, not sent")
        stages.observer.rows_done(outcomes.values())
        stages.observer.rows_alike(dry.status, len(rows))
        return ChunkOutcomes(outcomes, [dry])
    to_send, outcomes = _book(chunk, kept, outcomes, stages.bookkeeper, stages)
    stages.observer.rows_done(outcomes.values())
    outcomes.update(await stages.pusher.push(to_send))
    return outcomes


def check_chunk(
    chunk: Chunk,
    plan: MappingPlan,
    contract: Contract,
    schema: pa.DataFrameSchema,
    deduper: Deduper,
) -> tuple[dict[int, RowOutcome], pd.DataFrame]:
    """Map, validate and dedupe a chunk; return the rows settled so far and the rows kept."""
    outcomes, valid = map_and_validate(chunk, plan, contract, schema)
    return outcomes, dedupe_valid(valid, deduper, outcomes)


def map_and_validate(
    chunk: Chunk, plan: MappingPlan, contract: Contract, schema: pa.DataFrameSchema
) -> tuple[dict[int, RowOutcome], pd.DataFrame]:
    """Map and validate a chunk; return the rows that failed, and the valid rows mapped."""
    outcomes: dict[int, RowOutcome] = {}
    frame = chunk.frame.drop(index=list(chunk.malformed))
    for row, message in chunk.malformed.items():
        outcomes[row] = RowOutcome(row, State.FAILED, Reason.MALFORMED_ROW, message)
    mapped = apply_mapping(frame, plan, contract)
    validated = validate_chunk(mapped, schema)
    for row, message in validated.failures.items():
        outcomes[row] = RowOutcome(row, State.FAILED, Reason.VALIDATION, message)
    return outcomes, validated.valid


def dedupe_valid(
    valid: pd.DataFrame, deduper: Deduper, outcomes: dict[int, RowOutcome]
) -> pd.DataFrame:
    """Dedupe a chunk's valid rows (chunks in input order); add the duplicates to ``outcomes``.

    Returns:
        The rows kept: each first of its key.
    """
    deduped = deduper.split(valid)
    for row, kept in deduped.duplicates.items():
        outcomes[row] = RowOutcome(
            row,
            State.DUPLICATE,
            Reason.DUPLICATE_IN_FILE,
            f"same key as row {kept}, which was kept",
        )
    return deduped.kept


def _book(
    chunk: Chunk,
    kept: pd.DataFrame,
    outcomes: dict[int, RowOutcome],
    bookkeeper: Bookkeeper,
    stages: _Stages | _Planning,
) -> tuple[list[Record], dict[int, RowOutcome]]:
    """Record the chunk in the ledger; return the records to send and every other outcome."""
    records = build_records(kept, stages.contract)
    keys = stages.deduper.keys(kept)
    return bookkeeper.record(
        chunk.frame, outcomes, records, dict(zip(keys.index.tolist(), keys.tolist(), strict=True))
    )


# --- many workers: plan once, then `importer work` ------------------------------------------


PLANNED = "planned_for_workers"
"""The argument a planned run's history carries: only such a run is worked on by workers."""


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What planning an import for workers did (nothing was sent)."""

    run_id: str
    queued: int
    """Rows queued in the ledger for the workers to send."""
    decided: Totals
    """Rows settled while planning (invalid, duplicate, already synced...), with reasons."""


@dataclass(slots=True)
class _Planning:
    """The per-run state of the stages while a run is planned for workers."""

    contract: Contract
    plan: MappingPlan
    schema: pa.DataFrameSchema
    deduper: Deduper
    bookkeeper: Bookkeeper
    ledger: PostgresLedger
    decided: Totals = field(default_factory=Totals)
    queued: int = 0
    checked: bool = False
    """Whether the plan was checked against the first rows (``hold_back_misfits``)."""


def plan_for_workers(
    config: RunConfig, *, env: Mapping[str, str], observer: Observer | None = None
) -> PlanResult:
    """Read, map, validate and dedupe a sheet into a PostgreSQL ledger, for workers to send.

    Nothing is sent: every row is recorded with its state so far, and the rows to send wait in
    the ledger's work queue (``importer.ledger.work``) for ``importer work RUN_ID`` on any
    machine. The run's report is built from the ledger when its last row is settled.

    Raises:
        ConfigError: when ``config.state_dir`` is not a PostgreSQL URL, the config asks for
            the embedded sandbox or a dry run, or the run cannot start (as ``run_import``).
    """
    if not isinstance(config.state_dir, str) or not is_database_url(config.state_dir):
        raise ConfigError(
            "workers share an import through a PostgreSQL ledger: give --state "
            "postgresql://USER@HOST/DB"
        )
    if config.use_sandbox or config.dry_run:
        raise ConfigError(
            "a planned import is sent by workers: --sandbox and --dry-run do not apply"
        )
    from importer.ledger.postgres import PostgresLedger  # noqa: PLC0415 (psycopg)

    observer = observer or NullObserver()
    contract, sheet, plan = plan_import(config)
    schema = build_schema(contract)
    _check_constants(plan, contract, schema)
    run_id = _run_id()
    with ExitStack() as resources:
        target = _connect(config, contract, env, resources, observer)
        assert target is not None  # neither a dry run nor the sandbox
        ledger = PostgresLedger(
            config.state_dir, vendor=contract.id, account=target.account, lock="shared"
        )
        resources.callback(ledger.close)
        run = _history(config, contract, sheet, run_id, ledger.account)
        expected_rows = sheet.estimated_rows()
        ledger.begin_run(replace(run, arguments={**run.arguments, PLANNED: True}))
        planning = _Planning(
            contract=contract,
            plan=plan,
            schema=schema,
            deduper=Deduper.for_contract(contract, expected_keys=expected_rows),
            bookkeeper=Bookkeeper(ledger, run_id=run_id, resend_rejected=config.resend_rejected),
            ledger=ledger,
        )
        resources.callback(planning.deduper.close)
        observer.started(expected_rows)
        for read in sheet.chunks(config.chunk_rows):
            observer.rows_read(len(read.frame))
            chunk = _prepared(read, config, planning)
            if chunk is not None:
                _plan_chunk(chunk, planning, run_id)
    return PlanResult(run_id, planning.queued, planning.decided)


def _plan_chunk(chunk: Chunk, planning: _Planning, run_id: str) -> None:
    """Record one chunk's rows, queueing those to send."""
    outcomes, kept = check_chunk(
        chunk, planning.plan, planning.contract, planning.schema, planning.deduper
    )
    from importer.ledger.work import WorkItem, enqueue  # noqa: PLC0415 (psycopg)

    to_send, outcomes = _book(chunk, kept, outcomes, planning.bookkeeper, planning)
    items = []
    for record in to_send:
        key, digest = planning.bookkeeper.identity(record.source_row)
        items.append(WorkItem(record.source_row, key, digest, record.body, record.resend_safe))
    enqueue(planning.ledger, run_id, items)
    planning.queued += len(items)
    planning.decided.add(outcomes.values())


def _meta(
    config: RunConfig,
    *,
    contract: Contract,
    sheet: Sheet,
    plan: MappingPlan,
    run_id: str,
    target: Target | None,
    aborted: str | None,
) -> dict[str, Any]:
    base_url = target.base_url if target else None
    return {
        "run_id": run_id,
        "vendor": contract.id,
        "endpoint": f"{contract.method} {contract.path}",
        "base_url": safe_url(base_url) if base_url else None,
        "account": target.account if target else None,
        "state_dir": _state_dir_shown(config, target),
        "sandbox": config.use_sandbox,
        "dry_run": config.dry_run,
        "source_file": str(config.sheet_path.resolve()),
        "sheet": sheet.sheet_name,
        "encoding": sheet.encoding,
        "delimiter": sheet.delimiter,
        "header_row": sheet.header_row,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mapping": plan.describe(),
        "mapping_why": dict(plan.why),
        "unmapped_columns": list(plan.unmapped),
        "ignored_columns": list(plan.ignored),
        "tool_columns": list(plan.tool_columns),
        "held_back": dict(plan.held_back),
        "notes": [*sheet.notes, *_plan_notes(plan), *plan.held_back.values()],
        "arguments": _arguments(config),
        "aborted": aborted,
    }


def _prepared(read: Chunk, config: RunConfig, stages: _Stages | _Planning) -> Chunk | None:
    """Return a chunk as read, ready to check: the sheet's cells only, the plan checked against
    the first rows (``hold_back_misfits``), and only the rows a retry asked for; None when it
    holds none of those."""
    chunk = replace(read, frame=sheet_cells(read.frame, stages.plan))
    if not stages.checked:
        stages.plan = hold_back_misfits(stages.plan, chunk.frame, stages.contract)
        stages.checked = True
    if config.only_rows is not None:
        chunk = _only(chunk, config.only_rows)
    return chunk if len(chunk.frame) else None


def _only(chunk: Chunk, rows: frozenset[int]) -> Chunk:
    """Return the chunk's rows that are among ``rows`` (a retry imports just those)."""
    kept = chunk.frame.index.isin(list(rows))
    malformed = {row: message for row, message in chunk.malformed.items() if row in rows}
    return Chunk(chunk.frame[kept], malformed)


def _plan_notes(plan: MappingPlan) -> list[str]:
    """Return what a person should know about the plan before rows are sent."""
    notes = list(plan.notes)
    if plan.tool_columns:
        notes.append(
            f"left out {', '.join(map(repr, plan.tool_columns))}: the importer's own report "
            "columns (the safety ' it puts before values such as +1 555 is removed too)"
        )
    return notes


def _run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"
