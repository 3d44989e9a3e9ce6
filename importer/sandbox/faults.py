"""Faults on demand: latency and server errors, as aiohttp middlewares around the emulator."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from importer.sandbox.options import SandboxOptions

ErrorRenderer = Callable[[int, str | list[str]], web.Response]
SANDBOX_PREFIX = "/__sandbox__/"


def fault_middlewares(options: SandboxOptions, render: ErrorRenderer) -> list[Middleware]:
    """Return the middlewares that inject the faults ``options`` asks for."""
    dice = random.Random(options.seed)

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(SANDBOX_PREFIX):
            return await handler(request)
        if options.latency_ms:
            jitter = 1 + dice.random() * 0.5
            await asyncio.sleep(options.latency_ms * jitter / 1000)
        if options.fail_rate and dice.random() < options.fail_rate:
            return render(500, "Internal server error")
        return await handler(request)

    return [inject]
