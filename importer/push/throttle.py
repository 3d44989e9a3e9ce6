"""Client-side pacing, shared by every worker: rate limits, 429 pauses and AIMD.

The vendor's documented limits (requests evenly spaced at 98% of the strictest limit) apply
when the run talks to its production URL, or when ``--rate-limit`` asks. Whatever the limits,
a 429 pauses every worker for the time the vendor asks, halves the requests allowed in flight
and paces sends at an adaptive rate. The rate at which the server said no is the ceiling: the
pace drops below it (multiplicative decrease), climbs back with every success (additive
increase) to just under it, and holds there; held long enough without a 429, it probes a
little higher, so a limit raised meanwhile is found. A long run so settles just under the
server's limit instead of bouncing off it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

from importer.contracts.contract import RateLimit
from importer.lifecycle import Answer
from importer.payload import Record

DEFAULT_PAUSE_SECONDS = 1.0
PACE_SHARE = 0.98
"""A limit is paced at this share of its rate: at exactly the limit, a request delayed on its
way and the next one on time can land in one window of the server's count (a 429: a pause)."""
DECREASE = 0.85
"""A 429 cuts the adaptive rate to this fraction of the ceiling."""
HOLD_SHARE = 0.97
"""The adaptive rate climbs back to this share of the ceiling, and holds."""
PROBE_SECONDS = 30.0
"""Held this long without a 429, the ceiling rises by PROBE_STEP."""
PROBE_STEP = 1.02
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
        # the limit within one window of a server that counts a sliding window. Paced a little
        # under the limit (PACE_SHARE), so that requests bunched on the way still fit.
        self._interval = max(
            (limit.per_seconds / (limit.requests * PACE_SHARE) for limit in limits), default=0.0
        )
        self._limit_slots = _Slots()
        self._adaptive_slots = _Slots()
        self._max = float(max_concurrency)
        self._window = float(max_concurrency)
        self._active = 0
        self._waiting = 0
        self._changed = asyncio.Condition()
        self._resume_at = 0.0
        self._last_decrease = 0.0
        self._pause_cap = pause_cap_seconds
        self._rate: float | None = None
        self._ceiling = 0.0
        """The rate at which the server last said no (0: it never did)."""
        self._held_since = 0.0
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
        if self._active >= self.window:
            self._waiting += 1
            try:
                async with self._changed:
                    await self._changed.wait_for(lambda: self._active < self.window)
            finally:
                self._waiting -= 1
        self._active += 1
        if self._rate is not None:
            await self._adaptive_slots.take(1 / self._rate)
        if self._interval:
            await self._limit_slots.take(self._interval)

    async def after_attempt(self, record: Record, answer: Answer) -> None:
        """Free the slot; back off on a 429, grow on anything else the vendor answered."""
        self._active -= 1
        now = time.monotonic()
        if answer.http_status == 429:
            self._throttled(now, answer.retry_after)
        elif answer.http_status is not None:
            self._succeeded(now)
        if self._waiting:
            async with self._changed:
                self._changed.notify_all()

    def _throttled(self, now: float, retry_after: float | None) -> None:
        self.throttled += 1
        pause = min(retry_after or DEFAULT_PAUSE_SECONDS, self._pause_cap)
        self._resume_at = max(self._resume_at, now + pause)
        if now - self._last_decrease <= pause:
            return  # one decrease per pause: the 429s of requests already in flight echo it
        self._last_decrease = now
        self._window = max(1.0, self._window / 2)
        if self._rate is None:  # the first: the rate the server was seen to accept
            self._ceiling = max(1.0, self._recent_successes(now) / SEEN_SECONDS)
        else:  # the rate in force was too much
            self._ceiling = max(0.1, min(self._ceiling, self._rate))
        self._rate = self._ceiling * DECREASE
        self._held_since = now

    def _succeeded(self, now: float) -> None:
        self._window = min(self._max, self._window + 1 / self._window)
        self._successes.append(now)
        self._recent_successes(now)
        if self._rate is None:
            return
        hold = self._ceiling * HOLD_SHARE
        if self._rate < hold:
            self._rate = min(hold, self._rate + INCREASE_PER_SECOND / self._rate)
            self._held_since = now
        elif now - self._held_since >= PROBE_SECONDS:
            self._ceiling *= PROBE_STEP
            self._held_since = now

    def _recent_successes(self, now: float) -> int:
        while self._successes and now - self._successes[0] > SEEN_SECONDS:
            self._successes.popleft()
        return len(self._successes)


class _Slots:
    """Send times evenly spaced on a timeline of their own: no burst, no drift.

    Each request takes the next free slot, ``interval`` after the one before, never one in the
    past. A worker that wakes late does not push the later slots back, as a leaky bucket of
    one does (on a busy machine that lost 2 s a minute at 20 requests/s).
    """

    def __init__(self) -> None:
        self._next = 0.0

    async def take(self, interval: float) -> None:
        """Wait for this request's slot."""
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + interval
        if slot > now:
            await asyncio.sleep(slot - now)
