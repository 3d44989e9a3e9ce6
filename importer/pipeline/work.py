"""One worker of a planned import: lease rows from the ledger, push them, settle, repeat.

``importer plan`` (``pipeline.run.plan_for_workers``) ran read, map, validate and dedupe once
and queued the rows to send in a PostgreSQL ledger. Any number of workers, on any machine, run
the rest of the stages on that queue::

    lease (claimed) ──> push (shared rate limit) ──> settle ──> ... ──> the last settles: report

Each worker keeps about ``concurrency`` rows ahead of its senders (a lease holds them, renewed
while it works), so a worker that dies leaves at most that many rows ``sending``: after its
lease ends another worker takes them over under the crash rules of ``importer.lifecycle``. The
worker that settles the run's last row ends the run in the ledger and, with ``out_dir``, writes
its report (``importer report --run`` rebuilds it anywhere, any time).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from importer.contracts.contract import Contract, RateLimit, load_contract
from importer.errors import ConfigError
from importer.ledger.interface import LEASE_SECONDS, Run
from importer.ledger.postgres import PostgresLedger, open_run
from importer.ledger.work import BucketShape, SharedBucket, WorkQueue, remaining
from importer.lifecycle import Answer, Reason, RowOutcome, as_reported
from importer.payload import Record
from importer.pipeline.progress import NullObserver, Observer
from importer.pipeline.run import PLANNED
from importer.pipeline.signals import stop_on_signals
from importer.push.auth import credentials_from_env
from importer.push.settings import PushSettings
from importer.push.workers import Pusher
from importer.redact import safe_url
from importer.report.rebuild import rebuild_report
from importer.report.totals import Totals
from importer.report.writer import ReportFiles

TAKE_SECONDS = 0.05
"""A worker takes from the shared bucket about this many seconds' worth of tokens at once."""
DEFAULT_PAUSE_SECONDS = 1.0
"""How long every worker pauses on a 429 that names no Retry-After."""


def default_worker_name() -> str:
    """Return a name that tells workers apart in the ledger: host, process, a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkConfig:
    """What one worker needs: the ledger, the run, and how hard to push."""

    state: str
    """The PostgreSQL ledger's URL (``postgresql://...``)."""
    run_id: str
    out_dir: Path | None = None
    """Where the worker that ends the run writes its report (None: no report here)."""
    base_url: str | None = None
    """The vendor's base URL, if not the one the run was planned with."""
    push: PushSettings = field(default_factory=PushSettings)
    lease_seconds: float = LEASE_SECONDS
    """How long a leased row stays this worker's without a renewal (renewed every third)."""
    poll_seconds: float = 0.5
    """How often a worker with nothing to lease looks again while others hold rows."""
    worker: str = field(default_factory=default_worker_name)


@dataclass(frozen=True, slots=True)
class WorkResult:
    """What one worker did, and how the run ended if this worker ended it."""

    run_id: str
    worker: str
    counted: Totals
    """Outcomes this worker committed (each row once, across every worker)."""
    dropped: int
    """Outcomes this worker dropped: its lease had been taken over by then."""
    taken_over: int
    """Rows this worker leased after another worker's lease on them ran out."""
    throttled: int
    """429 answers this worker drew."""
    aborted: str | None
    ended_run: bool
    """This worker settled the run's last row and recorded its end."""
    run_totals: Totals | None = None
    files: ReportFiles | None = None

    @property
    def exit_code(self) -> int:
        """Return 2 if aborted, 1 if this worker ended a run with failed rows, else 0."""
        if self.aborted:
            return 2
        return 1 if self.run_totals is not None and self.run_totals.failed else 0


def work(
    config: WorkConfig, *, env: Mapping[str, str], observer: Observer | None = None
) -> WorkResult:
    """Work on a planned run until no row of it is left; block until done.

    Raises:
        ImporterError: when the worker cannot start (unknown run, unreachable ledger, missing
            credentials).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work_async(config, env=env, observer=observer))
    with ThreadPoolExecutor(1, thread_name_prefix="importer-work") as pool:
        return pool.submit(asyncio.run, work_async(config, env=env, observer=observer)).result()


async def work_async(
    config: WorkConfig, *, env: Mapping[str, str], observer: Observer | None = None
) -> WorkResult:
    """Work on a planned run until no row of it is left, on the running event loop.

    Raises:
        ImporterError: when the worker cannot start (unknown run, unreachable ledger, missing
            credentials).
    """
    observer = observer or NullObserver()
    with ExitStack() as resources:
        ledger, run = open_run(config.state, config.run_id, lock="shared")
        resources.callback(ledger.close)
        if not run.arguments.get(PLANNED):
            raise ConfigError(
                f"run {config.run_id} was not planned for workers: `importer plan` plans one"
            )
        contract = load_contract(run.vendor)
        base_url = config.base_url or str(run.arguments.get("base_url") or "")
        credentials = credentials_from_env(contract, env)
        shape = BucketShape.for_limits(_limits(run, contract, base_url))
        bucket = SharedBucket(config.state, vendor=run.vendor, account=run.account, shape=shape)
        resources.callback(bucket.close)
        take = min(config.push.concurrency, round(min(shape.rate, 1e4) * TAKE_SECONDS))
        throttle = SharedThrottle(bucket, take=max(1, take))
        queue = WorkQueue(
            ledger,
            config.run_id,
            worker=config.worker,
            lease_seconds=config.lease_seconds,
            resend_rejected=bool(run.arguments.get("resend_rejected")),
        )
        books = WorkBooks(queue, observer)
        observer.note(
            f"worker {config.worker} on run {config.run_id}: {run.vendor} at {safe_url(base_url)}"
        )
        async with Pusher(
            contract=contract,
            base_url=base_url,
            credentials=credentials,
            settings=config.push,
            hooks=[throttle],
            books=books,
        ) as pusher:
            with stop_on_signals(
                lambda name: pusher.stop(Reason.ABORTED, f"the worker was interrupted ({name})")
            ):
                await _drain(queue, pusher, config, observer)
        result = WorkResult(
            config.run_id,
            config.worker,
            books.counted,
            books.dropped,
            queue.taken_over,
            throttle.throttled,
            pusher.abort_reason,
            ended_run=False,
        )
        if pusher.stopped is None and queue.finish():
            return _end_run(ledger, config, result)
        return result


class WorkBooks:
    """Push's books for a worker: rows were claimed when leased; outcomes settle, fenced."""

    def __init__(self, queue: WorkQueue, observer: Observer) -> None:
        """Settle through ``queue``; tell ``observer`` of each outcome counted."""
        self._queue = queue
        self._observer = observer
        self.counted = Totals()
        self.dropped = 0

    def commit(
        self,
        claims: Sequence[Record],
        settled: Sequence[tuple[Record, RowOutcome, Sequence[Answer]]],
    ) -> list[bool]:
        """Settle outcomes while this worker holds their leases; every claim is already won.

        A row reaches push only after the transaction that leased it also claimed it, so its
        intent is committed before its first request, as for a single run.
        """
        if settled:
            fenced = self._queue.settle(settled)
            self.counted.add(fenced.counted)
            self.dropped += len(fenced.dropped)
            self._observer.rows_done(fenced.counted)
            if fenced.dropped:
                self._observer.note(
                    f"{len(fenced.dropped)} outcome(s) dropped: another worker took over their "
                    "rows after this worker's lease ran out"
                )
        return [True] * len(claims)


class SharedThrottle:
    """Pace attempts by the account's shared bucket; plugs into push as ``PushHooks``."""

    def __init__(self, bucket: SharedBucket, *, take: int) -> None:
        """Take ``take`` tokens at a time from ``bucket``."""
        self._bucket = bucket
        self._take = take
        self._due: deque[float] = deque()
        """The times (``time.monotonic``) this worker's tokens are due, in order."""
        self._lock = asyncio.Lock()
        self.throttled = 0

    async def before_attempt(self, record: Record, attempt: int) -> None:
        """Wait for this attempt's token of the shared bucket."""
        async with self._lock:
            if not self._due:
                first, step = await asyncio.to_thread(self._bucket.take, self._take)
                now = time.monotonic()
                self._due.extend(now + first + index * step for index in range(self._take))
            due = self._due.popleft()
        await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """On a 429, stop every worker for the time the vendor asks."""
        if answer.http_status != 429:
            return
        self.throttled += 1
        self._due.clear()
        await asyncio.to_thread(self._bucket.block, answer.retry_after or DEFAULT_PAUSE_SECONDS)


async def _drain(queue: WorkQueue, pusher: Pusher, config: WorkConfig, observer: Observer) -> None:
    """Lease rows and push them until none is left (or the worker stops)."""
    width = max(1, config.push.concurrency)
    pending: asyncio.Queue[Record | None] = asyncio.Queue()
    senders = [asyncio.create_task(_send(pending, pusher)) for _ in range(width)]
    renewing = asyncio.create_task(_renew(queue, config.lease_seconds / 3))
    try:
        while pusher.stopped is None:
            if pending.qsize() >= width:
                await asyncio.sleep(0.01)
                continue
            records, settled = await asyncio.to_thread(queue.lease, width - pending.qsize())
            observer.rows_done(settled)
            for record in records:
                pending.put_nowait(record)
            if records or settled:
                continue
            if pending.qsize() == 0 and not await asyncio.to_thread(
                remaining, queue.ledger, config.run_id
            ):
                break
            await asyncio.sleep(config.poll_seconds)  # other workers hold the rows left
    finally:
        for _ in senders:
            pending.put_nowait(None)
        await asyncio.gather(*senders)
        renewing.cancel()


async def _send(pending: asyncio.Queue[Record | None], pusher: Pusher) -> None:
    """Push rows one at a time (a stopped pusher settles the rest as not sent: released)."""
    while (record := await pending.get()) is not None:
        await pusher.push([record])


async def _renew(queue: WorkQueue, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(queue.renew)


def _end_run(ledger: PostgresLedger, config: WorkConfig, result: WorkResult) -> WorkResult:
    """Record the run's end and totals, from the ledger; write its report if asked."""
    totals = Totals()
    for row in ledger.run_rows(config.run_id):
        totals.add([as_reported(row.outcome)])
    ledger.end_run(
        config.run_id,
        ending="finished",
        totals={**totals.as_dict(), "reasons": dict(totals.by_reason)},
    )
    files = None
    if config.out_dir is not None:
        totals, files = rebuild_report(config.state, config.run_id, config.out_dir)
    return WorkResult(
        result.run_id,
        result.worker,
        result.counted,
        result.dropped,
        result.taken_over,
        result.throttled,
        result.aborted,
        ended_run=True,
        run_totals=totals,
        files=files,
    )


def _limits(run: Run, contract: Contract, base_url: str) -> list[RateLimit]:
    """Return the limits the plan asked for, else the vendor's own on its production URL."""
    text = run.arguments.get("rate_limit")
    if text:
        requests, _, seconds = str(text).partition("/")
        return [RateLimit(int(requests), float(seconds.rstrip("s")))]
    production = (contract.production_url or "").rstrip("/")
    if production and safe_url(base_url).rstrip("/") == production:
        return list(contract.rate_limits)
    return []
