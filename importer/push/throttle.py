"""Client-side pacing, shared by every worker: rate limits, 429 pauses and AIMD.

The vendor's documented limits (evenly paced leaky buckets from ``aiolimiter``) apply when
the run talks to its production URL, or when ``--rate-limit`` asks. Whatever the limits, a 429
pauses every worker for the time the vendor asks, halves the requests allowed in flight and
paces sends at an adaptive rate: first the rate the server was seen to accept, then cut on each
further 429 (multiplicative decrease) and raised a little with every success (additive
increase). A long run so settles just under the server's limit instead of bouncing off it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

from aiolimiter import AsyncLimiter

from importer.contracts.contract import RateLimit
from importer.lifecycle import Answer
from importer.payload import Record

DEFAULT_PAUSE_SECONDS = 1.0
DECREASE = 0.85
"""A further 429 cuts the adaptive rate to this fraction."""
INCREASE_PER_SECOND = 0.5
"""Successes raise the adaptive rate by this many requests/s per second."""
SEEN_SECONDS = 1.0
"""How far back the successes count when the first 429 sets the adaptive rate."""


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
        # One request per (period / requests), no burst: a burst-sized bucket can send twice
        # the limit within one window of a server that counts a sliding window.
        self._limiters = [AsyncLimiter(1, limit.per_seconds / limit.requests) for limit in limits]
        self._max = float(max_concurrency)
        self._window = float(max_concurrency)
        self._active = 0
        self._changed = asyncio.Condition()
        self._resume_at = 0.0
        self._last_decrease = 0.0
        self._pause_cap = pause_cap_seconds
        self._rate: float | None = None
        self._next_slot = 0.0
        self._successes: deque[float] = deque()
        self.throttled = 0
        """How many 429 answers the run drew."""

    @property
    def window(self) -> int:
        """Return how many requests may be in flight now."""
        return max(1, int(self._window))

    @property
    def rate(self) -> float | None:
        """Return the adaptive rate (requests/s) since the first 429, else None."""
        return self._rate

    async def before_attempt(self, record: Record, attempt: int) -> None:
        """Wait out any pause, then for a slot in the window, the pace and each limit."""
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        async with self._changed:
            await self._changed.wait_for(lambda: self._active < self.window)
            self._active += 1
        await self._pace()
        for limiter in self._limiters:
            await limiter.acquire()

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """Free the slot; back off on a 429, grow on anything else the vendor answered."""
        self._active -= 1
        now = time.monotonic()
        if answer.http_status == 429:
            self._throttled(now, answer.retry_after)
        elif answer.http_status is not None:
            self._succeeded(now)
        async with self._changed:
            self._changed.notify_all()

    async def _pace(self) -> None:
        if self._rate is None:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1 / self._rate
        if slot > now:
            await asyncio.sleep(slot - now)

    def _throttled(self, now: float, retry_after: float | None) -> None:
        self.throttled += 1
        pause = min(retry_after or DEFAULT_PAUSE_SECONDS, self._pause_cap)
        self._resume_at = max(self._resume_at, now + pause)
        if now - self._last_decrease <= pause:
            return  # one decrease per pause: the 429s of requests already in flight echo it
        self._last_decrease = now
        self._window = max(1.0, self._window / 2)
        if self._rate is None:
            self._rate = max(1.0, self._recent_successes(now) / SEEN_SECONDS)
        else:
            self._rate = max(0.1, self._rate * DECREASE)

    def _succeeded(self, now: float) -> None:
        self._window = min(self._max, self._window + 1 / self._window)
        self._successes.append(now)
        self._recent_successes(now)
        if self._rate is not None:
            self._rate += INCREASE_PER_SECOND / self._rate

    def _recent_successes(self, now: float) -> int:
        while self._successes and now - self._successes[0] > SEEN_SECONDS:
            self._successes.popleft()
        return len(self._successes)
