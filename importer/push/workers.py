"""The push stage: send records concurrently, retry what is safe, and classify every answer.

Concurrency lives here and only here: ``PushSettings.concurrency`` workers on the event loop,
and one writer thread for the books. Requests are ``httpx.Request`` objects sent through
``importer.push.transport`` (httpx's transport API over one aiohttp connection pool: a third
of the CPU a request of ``httpx.AsyncClient`` over httpcore costs, ``bench/transports.py``),
with one TLS context for the run.

The books (the ledger's bookkeeping) plug in as ``Books``, the rate limiter as ``PushHooks``;
push itself knows neither. Group commit: every claim and outcome the workers queue while the
writer thread commits is committed in its next batch, one transaction. A row's request leaves
only once the commit holding its claim returned (intent before send), and its outcome counts
(``push``'s result, ``on_outcome``) only once committed; meanwhile its worker sends the next
row. A worker claims its next row while the current one is in flight when the vendor would
detect a re-send of it (``Pusher._take``), so a slow fsync costs it no time. One record's
failure never cancels its siblings. ``stop`` (a refused credential, a signal, the run's time
budget) lets the requests in flight finish and sends nothing more.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import httpx

from importer.contracts.contract import Contract
from importer.lifecycle import Answer, Reason, RowOutcome, Verdict, judge, may_send_again
from importer.payload import Record
from importer.push.auth import Credentials, auth_headers
from importer.push.classify import (
    classify_response,
    classify_transport_error,
    classify_unsendable,
)
from importer.push.settings import PushSettings
from importer.push.transport import AiohttpTransport
from importer.redact import Redactor, safe_url, url_secrets

USER_AGENT = "importer/0.1"
HEADERS = {
    "user-agent": USER_AGENT,
    "content-type": "application/json",
    "accept": "*/*",
    "accept-encoding": "gzip, deflate",
}


class PushHooks(Protocol):
    """What wraps each attempt (the rate limiter)."""

    async def before_attempt(self, record: Record, attempt: int) -> None:
        """Wait for permission to send attempt ``attempt``."""
        ...

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """Learn one attempt's answer."""
        ...


Settled = tuple[Record, RowOutcome, Sequence[Answer]]
"""A row push is done with: its outcome and every answer that led to it."""


class Books(Protocol):
    """Where each row's intent and outcome are committed (the ledger's bookkeeping)."""

    def commit(self, claims: Sequence[Record], settled: Sequence[Settled]) -> list[bool]:
        """Durably claim rows and settle others in one go; return, per claim, whether it was won.

        Called from push's writer thread, never on the event loop.
        """
        ...


class ClaimLost(RuntimeError):
    """Raised when the books refuse a row's claim: another worker changed the row meanwhile."""


OnOutcome = Callable[[RowOutcome], None]


@dataclass(frozen=True, slots=True)
class StopReason:
    """Why a run sends nothing more, and what the rows left become."""

    reason: Reason
    message: str


class GroupCommit:
    """The books' one writer thread: what the workers queue meanwhile is committed together."""

    def __init__(self, books: Books) -> None:
        """Start the writer (inside the running event loop)."""
        self._books = books
        self._claims: list[tuple[Record, asyncio.Future[bool]]] = []
        self._settled: list[tuple[Settled, asyncio.Future[None]]] = []
        self._queued = asyncio.Event()
        self._closing = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="importer-books")
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def claim(self, record: Record) -> asyncio.Future[bool]:
        """Queue a row's claim; the future says, once it is committed, whether it was won."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims.append((record, future))
        self._queued.set()
        return future

    def settle(self, settled: Settled) -> asyncio.Future[None]:
        """Queue a row's outcome; the future is done once it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._settled.append((settled, future))
        self._queued.set()
        return future

    async def close(self) -> None:
        """Commit what is queued, then end the writer thread."""
        self._closing = True
        self._queued.set()
        if not self._writer.done():
            await self._writer
        self._thread.shutdown(wait=True)

    async def _write(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            claims, self._claims = self._claims, []
            settled, self._settled = self._settled, []
            if claims or settled:
                await self._commit(claims, settled)
            if self._closing and not (self._claims or self._settled):
                return

    async def _commit(
        self,
        claims: list[tuple[Record, asyncio.Future[bool]]],
        settled: list[tuple[Settled, asyncio.Future[None]]],
    ) -> None:
        try:
            won = await asyncio.get_running_loop().run_in_executor(
                self._thread,
                self._books.commit,
                [record for record, _ in claims],
                [each for each, _ in settled],
            )
        except Exception as error:  # the workers waiting on this batch raise it
            futures: list[asyncio.Future[bool] | asyncio.Future[None]] = [
                *(future for _, future in claims),
                *(future for _, future in settled),
            ]
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, claimed), result in zip(claims, won, strict=True):
            if not claimed.done():
                claimed.set_result(result)
        for _, committed in settled:
            if not committed.done():
                committed.set_result(None)


class Pusher:
    """Send records to one vendor endpoint; use as an async context manager."""

    def __init__(
        self,
        *,
        contract: Contract,
        base_url: str,
        credentials: Credentials,
        settings: PushSettings,
        hooks: Sequence[PushHooks] = (),
        books: Books | None = None,
        on_outcome: OnOutcome | None = None,
    ) -> None:
        """Prepare (but do not open) the connections.

        Without ``books``, nothing is claimed nor settled (a test of push alone).
        """
        self._contract = contract
        self._base_url = base_url
        self._credentials = credentials
        self._redact = Redactor([*credentials.secrets.values(), *url_secrets(base_url)])
        self._settings = settings
        self._hooks = tuple(hooks)
        self._books = books
        self._commits: GroupCommit | None = None
        self._claimed_ahead: dict[int, asyncio.Future[bool]] = {}
        self._on_outcome = on_outcome
        self._transport: AiohttpTransport | None = None
        self._url = endpoint_url(base_url, contract.path)
        self._headers = [
            (b"host", self._url.netloc),
            *((name.encode(), value.encode()) for name, value in HEADERS.items()),
        ]
        self._basic_auth: tuple[bytes, bytes] | None = None
        if self._url.username or self._url.password:  # as httpx's client: basic auth from the URL
            userinfo = f"{self._url.username}:{self._url.password}".encode()
            self._basic_auth = (b"authorization", b"Basic " + base64.b64encode(userinfo))
        self._timeouts = httpx.Timeout(
            settings.timeout_seconds, connect=settings.connect_timeout_seconds
        ).as_dict()
        self._deadline = (
            time.monotonic() + settings.max_run_seconds if settings.max_run_seconds else None
        )
        self.stopped: StopReason | None = None
        self.seconds = 0.0
        """Wall seconds spent in ``push``, summed over its calls (to its last outcome counted)."""
        self._heard_from_vendor = False

    @property
    def abort_reason(self) -> str | None:
        """Return why the run was aborted (refused credentials, a signal), if it was."""
        if self.stopped is None or self.stopped.reason is Reason.DEFERRED:
            return None
        return self.stopped.message

    def stop(self, reason: Reason, message: str) -> None:
        """Send nothing more (the first reason given wins); requests in flight finish."""
        if self.stopped is None:
            self.stopped = StopReason(reason, message)

    async def __aenter__(self) -> Pusher:
        """Prepare the connection pool (one TLS context) and the books' writer."""
        self._transport = AiohttpTransport(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max(1, self._settings.concurrency),
            proxy_for=str(self._url),
        )
        if self._books is not None:
            self._commits = GroupCommit(self._books)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Commit what is queued and close every connection."""
        try:
            if self._commits is not None:
                await self._commits.close()
        finally:
            if self._transport is not None:
                await self._transport.aclose()

    async def push(self, records: Sequence[Record]) -> dict[int, RowOutcome]:
        """Send every record and return each one's outcome (committed) by source row."""
        outcomes: dict[int, RowOutcome] = {}
        pending = iter(records)
        committing: list[asyncio.Future[None]] = []
        workers = max(1, self._settings.concurrency)
        started = time.monotonic()
        try:
            await asyncio.gather(
                *(self._work(pending, outcomes, committing) for _ in range(workers))
            )
            await asyncio.gather(*committing)
        finally:
            self.seconds += time.monotonic() - started
        return outcomes

    async def _work(
        self,
        pending: Iterator[Record],
        outcomes: dict[int, RowOutcome],
        committing: list[asyncio.Future[None]],
    ) -> None:
        record = self._take(pending)
        while record is not None:
            upcoming = self._take(pending)  # its claim commits while this row is sent
            outcome, answers = await self._send(record)
            if self._commits is None:
                self._count(outcome, outcomes)
            else:
                ahead = self._claimed_ahead.pop(record.source_row, None)
                if ahead is not None:  # never attempted: its claim still precedes its outcome
                    await ahead
                committing.append(self._settle(record, outcome, answers, outcomes))
            record = upcoming

    def _take(self, pending: Iterator[Record]) -> Record | None:
        """Return the worker's next row; claim it at once if a re-send of it is safe.

        Claiming ahead hides the commit behind the request in flight. A row claimed but not
        yet sent when the run is killed stays ``sending``, so only a row the vendor detects
        as a duplicate (``resend_safe``) is claimed ahead: the next run just sends it again.
        Other rows are claimed right before their first request, so a kill leaves no more of
        them in doubt than were in flight. A stopped run settles what it claimed ahead back to
        ``planned``.
        """
        record = next(pending, None)
        if record is not None and record.resend_safe and self._commits and not self.stopped:
            self._claimed_ahead[record.source_row] = self._commits.claim(record)
        return record

    def _settle(
        self,
        record: Record,
        outcome: RowOutcome,
        answers: Sequence[Answer],
        outcomes: dict[int, RowOutcome],
    ) -> asyncio.Future[None]:
        """Queue the outcome's commit; it counts once committed, while the worker moves on."""
        assert self._commits is not None
        committed = self._commits.settle((record, outcome, answers))
        committed.add_done_callback(functools.partial(self._count_committed, outcome, outcomes))
        return committed

    def _count_committed(
        self, outcome: RowOutcome, outcomes: dict[int, RowOutcome], committed: asyncio.Future[None]
    ) -> None:
        if not committed.cancelled() and committed.exception() is None:
            self._count(outcome, outcomes)

    def _count(self, outcome: RowOutcome, outcomes: dict[int, RowOutcome]) -> None:
        outcomes[outcome.source_row] = outcome
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    async def _send(self, record: Record) -> tuple[RowOutcome, list[Answer]]:
        answers: list[Answer] = []
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.stop(Reason.DEFERRED, "the run's time budget ran out before it was sent")
        if self.stopped is None:
            content = json.dumps(record.body, ensure_ascii=False, separators=(",", ":")).encode()
            await self._attempts(record, content, answers)
        return self._outcome(record, answers), answers

    async def _attempts(self, record: Record, content: bytes, answers: list[Answer]) -> None:
        """Send, and again after a backoff while the answer says it is safe and time allows."""
        started = time.monotonic()
        while True:
            answer = await self._attempt(record, content, answers)
            if answer is None or not may_send_again(answer, resend_safe=record.resend_safe):
                return
            delay = self._delay(answer, attempt=len(answers))
            if self._give_up(answers, started, delay):
                return
            await asyncio.sleep(delay)

    def _delay(self, answer: Answer, *, attempt: int) -> float:
        """Return the wait before the next attempt: exponential with jitter, or Retry-After."""
        settings = self._settings
        initial = settings.backoff_initial_seconds
        backoff: float = min(
            settings.backoff_max_seconds, initial * 2 ** (attempt - 1) + random.uniform(0, initial)
        )
        if answer.retry_after is not None:
            return max(backoff, min(answer.retry_after, settings.retry_after_cap_seconds))
        return backoff

    def _give_up(self, answers: Sequence[Answer], started: float, delay: float) -> bool:
        """Return whether to stop retrying a row, before waiting ``delay`` for its next attempt."""
        # A 429 says "not now", not "broken": it spends time, not attempts.
        throttled = sum(answer.http_status == 429 for answer in answers)
        if self.stopped is not None or len(answers) - throttled >= self._settings.max_attempts:
            return True
        upcoming = time.monotonic() + delay
        if upcoming - started > self._settings.max_row_seconds:
            return True
        if self._deadline is not None and upcoming > self._deadline:
            self.stop(Reason.DEFERRED, "the run's time budget ran out before it was sent")
            return True
        return False

    async def _attempt(
        self, record: Record, content: bytes, answers: list[Answer]
    ) -> Answer | None:
        if self.stopped is not None:
            return None
        for hook in self._hooks:
            await hook.before_attempt(record, len(answers) + 1)
        if not answers and self._commits is not None:
            await self._claim(record)
        answer = await self._request(content)
        answers.append(answer)
        self._heard_from_vendor |= answer.http_status is not None
        for hook in self._hooks:
            await hook.after_attempt(record, answer)
        if answer.verdict is Verdict.FATAL:
            variables = " and ".join(self._contract.credential_vars)
            words = (
                f"the vendor refused the credentials ({answer.message})"
                if answer.http_status
                else answer.message
            )
            self.stop(Reason.ABORTED, f"{words}; check {variables}")
        return answer

    async def _claim(self, record: Record) -> None:
        """Commit the row's intent before its first request leaves.

        Raises:
            ClaimLost: when another worker changed the row since this run looked.
        """
        assert self._commits is not None
        claim = self._claimed_ahead.pop(record.source_row, None) or self._commits.claim(record)
        if not await claim:
            raise ClaimLost(f"row {record.source_row} was claimed by another worker")

    async def _request(self, content: bytes) -> Answer:
        headers = auth_headers(
            self._contract,
            self._credentials,
            method=self._contract.method,
            path=self._contract.path,
            body=content,
        )
        assert self._transport is not None, "use Pusher as an async context manager"
        try:
            request = httpx.Request(
                self._contract.method,
                self._url,
                headers=self._request_headers(headers, len(content)),
                stream=httpx.ByteStream(content),  # as content=, without re-deriving its headers
                extensions={"timeout": self._timeouts},
            )
        except ValueError as error:  # a header value is not ASCII: nothing was sent
            return classify_unsendable(error)
        try:
            response = await self._transport.handle_async_request(request)
            try:
                body = await _read_capped(response, self._settings.max_response_bytes)
            finally:
                await response.aclose()
        except httpx.TransportError as error:
            return classify_transport_error(error, redact=self._redact)
        return classify_response(
            response.status_code, response.headers, body, self._contract, redact=self._redact
        )

    def _request_headers(self, auth: dict[str, str], length: int) -> list[tuple[bytes, bytes]]:
        """Return a request's headers as bytes, Host and Content-Length included.

        What httpx's client would send, without its per-request header merging (httpx.Request
        built so costs a third less).

        Raises:
            UnicodeEncodeError: when a header value is not ASCII.
        """
        pairs = [(name.encode("ascii"), value.encode("ascii")) for name, value in auth.items()]
        if self._basic_auth and not any(name.lower() == b"authorization" for name, _ in pairs):
            pairs.append(self._basic_auth)
        return [*self._headers, *pairs, (b"content-length", b"%d" % length)]

    def _outcome(self, record: Record, answers: list[Answer]) -> RowOutcome:
        last = answers[-1] if answers else None
        if (
            last is not None
            and not self._heard_from_vendor
            and may_send_again(last, resend_safe=record.resend_safe)
        ):
            self.stop(
                Reason.ABORTED,
                f"cannot reach the vendor at {safe_url(self._base_url)} ({last.message}); check "
                "--base-url and the network",
            )
        stopped = self.stopped
        return judge(
            record.source_row,
            answers,
            resend_safe=record.resend_safe,
            resent_doubt=record.resent_doubt,
            stopped=(stopped.reason, stopped.message) if stopped else None,
            heard_from_vendor=self._heard_from_vendor,
        )


def endpoint_url(base_url: str, path: str) -> httpx.URL:
    """Return the endpoint's URL: ``path`` under the base URL's own path, as httpx's client does."""
    base = httpx.URL(base_url)
    prefix = base.raw_path if base.raw_path.endswith(b"/") else base.raw_path + b"/"
    return base.copy_with(raw_path=prefix + path.lstrip("/").encode())


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """Return an answer's body, cut at ``limit`` bytes so a runaway answer cannot fill memory.

    A cut JSON body no longer parses: its words are then shown raw (shortened), and a created
    record's id may be missing from the report.
    """
    if response.is_stream_consumed:  # a small answer the transport read whole
        return response.content[:limit]
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)
