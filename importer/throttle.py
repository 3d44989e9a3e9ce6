"""Client-side pacing, shared by every worker: rate limits, 429 pauses and AIMD concurrency.

The vendor's documented limits (leaky buckets from ``aiolimiter``, one per window) apply when
the run talks to its production URL, or when ``--rate-limit`` asks. Whatever the limits, a 429
pauses every worker for the time the vendor asks, and halves the number of requests allowed in
flight; each success then adds to it again (additive increase, multiplicative decrease), so a
long run settles just under the server's limit instead of bouncing off it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiolimiter import AsyncLimiter

from importer.body import Record
from importer.contract import RateLimit
from importer.model import RowOutcome
from importer.outcomes import Answer

DEFAULT_PAUSE_SECONDS = 1.0


class Throttle:
    """Pace the attempts of every worker; plugs into push as ``PushHooks``."""

    def __init__(
        self,
        *,
        limits: Sequence[RateLimit],
        max_concurrency: int,
        pause_cap_seconds: float = 120.0,
    ) -> None:
        """Allow at most ``limits`` and ``max_concurrency`` requests in flight."""
        self._limiters = [AsyncLimiter(limit.requests, limit.per_seconds) for limit in limits]
        self._max = float(max_concurrency)
        self._window = float(max_concurrency)
        self._active = 0
        self._changed = asyncio.Condition()
        self._resume_at = 0.0
        self._last_decrease = 0.0
        self._pause_cap = pause_cap_seconds
        self.throttled = 0
        """How many 429 answers the run drew."""

    @property
    def window(self) -> int:
        """Return how many requests may be in flight now."""
        return max(1, int(self._window))

    async def before_attempt(self, record: Record, attempt: int) -> None:
        """Wait out any pause, then for a slot in the window and a token from each limit."""
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        async with self._changed:
            await self._changed.wait_for(lambda: self._active < self.window)
            self._active += 1
        for limiter in self._limiters:
            await limiter.acquire()

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """Free the slot; back off on a 429, grow the window on anything else answered."""
        self._active -= 1
        now = time.monotonic()
        if answer.http_status == 429:
            self.throttled += 1
            pause = min(answer.retry_after or DEFAULT_PAUSE_SECONDS, self._pause_cap)
            self._resume_at = max(self._resume_at, now + pause)
            if now - self._last_decrease > pause:
                self._window = max(1.0, self._window / 2)
                self._last_decrease = now
        elif answer.http_status is not None:
            self._window = min(self._max, self._window + 1 / self._window)
        async with self._changed:
            self._changed.notify_all()

    def settle(self, record: Record, outcome: RowOutcome, answers: Sequence[Answer]) -> RowOutcome:
        """Leave the outcome as it is."""
        return outcome
