"""Serve a sandbox: from a background thread (embedded) or in the foreground (the command)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable

from aiohttp import web

from importer.contracts.contract import Contract
from importer.sandbox.emulator import Emulator
from importer.sandbox.options import SandboxOptions


class EmbeddedSandbox:
    """Serve a sandbox on loopback from a background thread, for one run or one test."""

    def __init__(self, contract: Contract, options: SandboxOptions | None = None) -> None:
        """Prepare the sandbox of ``contract``; ``start`` serves it."""
        self._emulator = Emulator(contract, options or SandboxOptions())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start serving on a free loopback port and return the base URL."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.base_url = future.result(timeout=30)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> EmbeddedSandbox:
        """Start serving."""
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        """Stop serving."""
        self.stop()

    async def _start(self) -> str:
        self._runner, url = await start_site(self._emulator.app(), "127.0.0.1", 0)
        return url


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (0 picks a free port) and return the runner and URL."""
    # A client that hangs up mid-request (a killed importer) is not the sandbox's error.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return runner, f"http://{shown}:{bound_port}"


def serve(
    contract: Contract,
    *,
    host: str,
    port: int,
    options: SandboxOptions,
    announce: Callable[[str], None],
) -> None:
    """Serve the sandbox until SIGINT or SIGTERM, announcing its base URL once it listens."""
    asyncio.run(_serve(Emulator(contract, options), host, port, announce))


async def _serve(emulator: Emulator, host: str, port: int, announce: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner, url = await start_site(emulator.app(), host, port)
    try:
        announce(url)
        await stop.wait()
    finally:
        await runner.cleanup()
