"""A faithful local emulator of a vendor endpoint, served over real HTTP.

Driven by the vendor's contract alone: it checks the credential the way the vendor does,
validates the body against the contract's JSON Schema with ``jsonschema`` (an implementation
independent of the importer's pandera schema), answers 409 for a key it already holds, and
answers errors in the vendor's own shape. ``GET /__sandbox__/records`` lists what it stored,
each body exactly as received.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import jsonschema
from aiohttp import web

from importer.contract import Contract

RECORDS_PATH = "/__sandbox__/records"


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxOptions:
    """How the sandbox behaves beyond the vendor's documented rules."""

    latency_ms: int = 0
    """Delay every answer by this much (with up to 50% jitter)."""
    fail_rate: float = 0.0
    """Answer this fraction of create requests with a 500, storing nothing."""
    seed: int | None = None
    """Seed of the fault dice, for repeatable rehearsals."""
    preload: bool = True
    """Start holding the contract's ``sandbox.existing_records`` (answered 409, not listed)."""


@dataclass(slots=True)
class _Store:
    records: list[Any] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    ids: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)


STORE = web.AppKey("store", _Store)


def nestjs_error(status: int, message: str | list[str]) -> dict[str, Any]:
    """Return an error body the way a NestJS service (OfferGrid) shapes it."""
    return {"statusCode": status, "message": message, "error": _phrase(status)}


ERROR_STYLES: Mapping[str, Callable[[int, str | list[str]], dict[str, Any]]] = {
    "nestjs": nestjs_error,
}


class Emulator:
    """The request handlers of one vendor's sandbox."""

    def __init__(self, contract: Contract, options: SandboxOptions) -> None:
        """Prepare the validator and the key fields from the contract."""
        self.contract = contract
        self.options = options
        self._validator = jsonschema.Draft202012Validator(dict(contract.request_schema))
        self._unique = tuple(contract.sandbox.get("unique", contract.dedupe_key))
        self._render = ERROR_STYLES[contract.error_body.style]
        self._dice = random.Random(options.seed)

    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        store = _Store()
        if self.options.preload:
            for record in self.contract.sandbox.get("existing_records", []):
                store.keys.add(self._key(record) or "")
        app[STORE] = store
        app.router.add_route(self.contract.method, self.contract.path, self.create)
        app.router.add_get(RECORDS_PATH, self.records)
        app.router.add_delete(RECORDS_PATH, self.reset)
        return app

    async def create(self, request: web.Request) -> web.Response:
        """Handle the vendor's create endpoint."""
        if self.options.latency_ms:
            jitter = 1 + self._dice.random() * 0.5
            await asyncio.sleep(self.options.latency_ms * jitter / 1000)
        if self._dice.random() < self.options.fail_rate:
            return self._error(500, "Internal server error")
        if not self._authorized(request):
            return self._error(401, "Unauthorized")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, ["body must be valid JSON"])
        problems = self._problems(body)
        if problems:
            return self._error(400, problems)
        store = request.app[STORE]
        key = self._key(body)
        if key is not None and key in store.keys:
            message = self.contract.sandbox.get("conflict_message", "Conflict")
            return self._error(409, message)
        vendor_id = self._store(store, body)
        answer = {self.contract.id_field: vendor_id, **body, "createdAt": _now()}
        return web.json_response(answer, status=min(self.contract.created_statuses))

    async def records(self, request: web.Request) -> web.Response:
        """List every stored record exactly as received."""
        return web.json_response(request.app[STORE].records)

    async def reset(self, request: web.Request) -> web.Response:
        """Forget every stored record (tests use this between cases)."""
        request.app[STORE] = _Store()
        return web.Response(status=204)

    def _authorized(self, request: web.Request) -> bool:
        auth = self.contract.auth
        expected = auth.sandbox_credentials
        if auth.scheme == "api-key":
            return request.headers.get(auth.header or "x-api-key") == expected.get("api_key")
        if auth.scheme == "bearer":
            return request.headers.get("Authorization") == f"Bearer {expected.get('token')}"
        return False

    def _problems(self, body: Any) -> list[str]:
        errors = sorted(self._validator.iter_errors(body), key=lambda error: list(error.path))
        return [_describe(error) for error in errors]

    def _key(self, body: Mapping[str, Any]) -> str | None:
        parts = [_dig(body, path) for path in self._unique]
        if not parts or any(part in (None, "") for part in parts):
            return None
        return "\x1f".join(str(part).strip().casefold() for part in parts)

    def _store(self, store: _Store, body: Mapping[str, Any]) -> str:
        key = self._key(body)
        if key is not None:
            store.keys.add(key)
        store.records.append(body)
        prefix = self.contract.sandbox.get("id_prefix", "sbx_")
        return f"{prefix}{store.ids():06d}"

    def _error(self, status: int, message: str | list[str]) -> web.Response:
        return web.json_response(self._render(status, message), status=status)


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


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(part)
    return doc


def _phrase(status: int) -> str:
    return HTTPStatus(status).phrase


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
