"""The push stage: send records concurrently, retry what is safe, and classify every answer.

Concurrency lives here and only here, bounded by ``PushSettings.concurrency``. Each worker owns
one ``httpx.AsyncClient`` holding one connection: measured on this kind of machine, one shared
client's pool slows from about 1,000 to 290 requests/s at concurrency 64 because it scans every
connection per request, while a client per connection reached about 1,400/s.

What wraps a send (the ledger, the rate limiter) plugs in as ``PushHooks``; push itself knows
neither. One record's failure never cancels its siblings. ``stop`` (a refused credential, a
signal, the run's time budget) lets the requests in flight finish and sends nothing more.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_result
from tenacity.wait import wait_exponential_jitter

from importer.contracts.contract import Contract
from importer.lifecycle import Answer, Reason, RowOutcome, Verdict, judge, may_send_again
from importer.payload import Record
from importer.push.auth import Credentials, auth_headers
from importer.push.classify import (
    classify_response,
    classify_transport_error,
    classify_unsendable,
)
from importer.redact import Redactor, safe_url, url_secrets

USER_AGENT = "importer/0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSettings:
    """How hard and how patiently to push; every default lives here."""

    concurrency: int = 8
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    retry_after_cap_seconds: float = 120.0
    max_response_bytes: int = 1_000_000
    """Read at most this much of an answer's body (a vendor's answers are small JSON)."""
    max_row_seconds: float = 300.0
    """Give up on a row whose retries would run longer than this."""
    max_run_seconds: float | None = None
    """Send no new row after this budget, nor wait past it; the rows left are ``deferred``."""


class PushHooks(Protocol):
    """What wraps each send: called around every attempt and once with the final outcome."""

    async def before_attempt(self, record: Record, attempt: int) -> None:
        """Wait for permission to send (and record the intent) before attempt ``attempt``."""
        ...

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """Learn one attempt's answer."""
        ...

    def settle(self, record: Record, outcome: RowOutcome, answers: Sequence[Answer]) -> RowOutcome:
        """Record the final outcome (durably, if it is a ledger) and return it, maybe amended."""
        ...


OnOutcome = Callable[[RowOutcome], None]


@dataclass(frozen=True, slots=True)
class StopReason:
    """Why a run sends nothing more, and what the rows left become."""

    reason: Reason
    message: str


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
        on_outcome: OnOutcome | None = None,
    ) -> None:
        """Prepare (but do not open) the connections."""
        self._contract = contract
        self._base_url = base_url
        self._credentials = credentials
        self._redact = Redactor([*credentials.secrets.values(), *url_secrets(base_url)])
        self._settings = settings
        self._hooks = tuple(hooks)
        self._on_outcome = on_outcome
        self._clients: list[httpx.AsyncClient] = []
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial_seconds,
            max=settings.backoff_max_seconds,
            jitter=settings.backoff_initial_seconds,
        )
        self._deadline = (
            time.monotonic() + settings.max_run_seconds if settings.max_run_seconds else None
        )
        self.stopped: StopReason | None = None
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
        """Open one client (one connection) per worker."""
        timeout = httpx.Timeout(
            self._settings.timeout_seconds, connect=self._settings.connect_timeout_seconds
        )
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._clients = [
            httpx.AsyncClient(
                base_url=self._base_url,
                timeout=timeout,
                limits=limits,
                headers={"user-agent": USER_AGENT, "content-type": "application/json"},
                follow_redirects=False,
            )
            for _ in range(max(1, self._settings.concurrency))
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close every connection."""
        await asyncio.gather(*(client.aclose() for client in self._clients))

    async def push(self, records: Sequence[Record]) -> dict[int, RowOutcome]:
        """Send every record and return each one's outcome by source row."""
        outcomes: dict[int, RowOutcome] = {}
        pending = iter(records)
        await asyncio.gather(*(self._work(client, pending, outcomes) for client in self._clients))
        return outcomes

    async def _work(
        self,
        client: httpx.AsyncClient,
        pending: Iterator[Record],
        outcomes: dict[int, RowOutcome],
    ) -> None:
        for record in pending:
            outcome = await self._send(client, record)
            outcomes[record.source_row] = outcome
            if self._on_outcome is not None:
                self._on_outcome(outcome)

    async def _send(self, client: httpx.AsyncClient, record: Record) -> RowOutcome:
        answers: list[Answer] = []
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.stop(Reason.DEFERRED, "the run's time budget ran out before it was sent")
        if self.stopped is None:
            content = json.dumps(record.body, ensure_ascii=False, separators=(",", ":")).encode()
            await self._retrying(record, answers)(self._attempt, client, record, content, answers)
        outcome = self._outcome(record, answers)
        for hook in self._hooks:
            outcome = hook.settle(record, outcome, answers)
        return outcome

    def _retrying(self, record: Record, answers: Sequence[Answer]) -> AsyncRetrying:
        started = time.monotonic()

        def give_up(state: RetryCallState) -> bool:
            # A 429 says "not now", not "broken": it spends time, not attempts.
            throttled = sum(answer.http_status == 429 for answer in answers)
            if self.stopped is not None or (
                state.attempt_number - throttled >= self._settings.max_attempts
            ):
                return True
            upcoming = time.monotonic() + self._wait(state)
            if upcoming - started > self._settings.max_row_seconds:
                return True
            if self._deadline is not None and upcoming > self._deadline:
                self.stop(Reason.DEFERRED, "the run's time budget ran out before it was sent")
                return True
            return False

        return AsyncRetrying(
            stop=give_up,
            wait=self._wait,
            retry=retry_if_result(
                lambda answer: (
                    answer is not None and may_send_again(answer, resend_safe=record.resend_safe)
                )
            ),
            retry_error_callback=lambda state: None,
        )

    async def _attempt(
        self, client: httpx.AsyncClient, record: Record, content: bytes, answers: list[Answer]
    ) -> Answer | None:
        if self.stopped is not None:
            return None
        for hook in self._hooks:
            await hook.before_attempt(record, len(answers) + 1)
        answer = await self._request(client, content)
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

    async def _request(self, client: httpx.AsyncClient, content: bytes) -> Answer:
        headers = auth_headers(
            self._contract,
            self._credentials,
            method=self._contract.method,
            path=self._contract.path,
            body=content,
        )
        try:
            request = client.build_request(
                self._contract.method, self._contract.path, content=content, headers=headers
            )
        except ValueError as error:  # httpx cannot encode a header value: nothing was sent
            return classify_unsendable(error)
        try:
            response = await client.send(request, stream=True)
            try:
                body = await _read_capped(response, self._settings.max_response_bytes)
            finally:
                await response.aclose()
        except httpx.TransportError as error:
            return classify_transport_error(error, redact=self._redact)
        return classify_response(
            response.status_code, response.headers, body, self._contract, redact=self._redact
        )

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        answer = state.outcome.result() if state.outcome and not state.outcome.failed else None
        if isinstance(answer, Answer) and answer.retry_after is not None:
            return max(backoff, min(answer.retry_after, self._settings.retry_after_cap_seconds))
        return backoff

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


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """Return an answer's body, cut at ``limit`` bytes so a runaway answer cannot fill memory.

    A cut JSON body no longer parses: its words are then shown raw (shortened), and a created
    record's id may be missing from the report.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)
