"""Faults on demand, as one aiohttp middleware around the emulator's endpoints.

Latency, 5xx answers, dropped connections after the record is stored (the ambiguous case),
429 beyond a rate limit, and credentials that stop working after a number of requests. The
``/__sandbox__/`` endpoints are never faulted.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from importer.sandbox.options import SandboxOptions

ErrorRenderer = Callable[[int, str | list[str]], web.Response]
SANDBOX_PREFIX = "/__sandbox__/"


class Faults:
    """The fault state of one sandbox: its dice, its request count and its rate window."""

    def __init__(self, options: SandboxOptions, render: ErrorRenderer) -> None:
        """Inject what ``options`` asks for, answering errors with ``render``."""
        self._options = options
        self._render = render
        self._dice = random.Random(options.seed)
        self._requests = 0
        self._recent: deque[float] = deque()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Fault the request if asked to, else pass it to the emulator."""
        if request.path.startswith(SANDBOX_PREFIX):
            return await handler(request)
        self._requests += 1
        if self._options.latency_ms:
            jitter = 1 + self._dice.random() * 0.5
            await asyncio.sleep(self._options.latency_ms * jitter / 1000)
        refused = self._refusal()
        if refused is not None:
            return refused
        response = await handler(request)
        dropped = 200 <= response.status < 300 and self._roll(self._options.drop_rate)
        if dropped and request.transport is not None:
            request.transport.abort()  # stored, but the client never hears of it
        return response

    def _refusal(self) -> web.Response | None:
        limit = self._options.auth_fail_after
        if limit is not None and self._requests > limit:
            return self._render(401, "Unauthorized")
        wait = self._rate_limited()
        if wait is not None:
            response = self._render(429, "Too many requests")
            response.headers["Retry-After"] = str(wait)
            return response
        if self._roll(self._options.fail_rate):
            return self._render(500, "Internal server error")
        return None

    def _rate_limited(self) -> int | None:
        """Count this request in the window; return the seconds to wait if it is over."""
        if self._options.rate_limit is None:
            return None
        limit, window = self._options.rate_limit
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= window:
            self._recent.popleft()
        if len(self._recent) >= limit:
            return max(1, math.ceil(window - (now - self._recent[0])))
        self._recent.append(now)
        return None

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._dice.random() < rate


def fault_middlewares(options: SandboxOptions, render: ErrorRenderer) -> list[Middleware]:
    """Return the middlewares that inject the faults ``options`` asks for."""
    return [Faults(options, render).middleware]
