"""The emulator of one vendor endpoint: its handlers and what it stores.

Driven by the vendor's contract alone: it checks the credential the way the vendor does,
validates the body against the contract's JSON Schema with ``jsonschema`` (an implementation
independent of the importer's pandera schema), answers 409 for a key it already holds, and
answers errors in the vendor's own shape. ``GET /__sandbox__/records`` lists what it stored,
each body exactly as received.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonschema
from aiohttp import web

from importer.contract import Contract
from importer.sandbox.faults import fault_middlewares
from importer.sandbox.options import SandboxOptions
from importer.sandbox.vendors import ERROR_STYLES

RECORDS_PATH = "/__sandbox__/records"


@dataclass(slots=True)
class _Store:
    records: list[Any] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    ids: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)


STORE = web.AppKey("store", _Store)


class Emulator:
    """The request handlers of one vendor's sandbox."""

    def __init__(self, contract: Contract, options: SandboxOptions) -> None:
        """Prepare the validator and the key fields from the contract."""
        self.contract = contract
        self.options = options
        self._validator = jsonschema.Draft202012Validator(dict(contract.request_schema))
        self._unique = tuple(contract.sandbox.get("unique", contract.dedupe_key))
        self._render = ERROR_STYLES[contract.error_body.style]

    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(
            client_max_size=8 * 1024 * 1024, middlewares=fault_middlewares(self.options, self.error)
        )
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
        if not self._authorized(request):
            return self.error(401, "Unauthorized")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return self.error(400, ["body must be valid JSON"])
        problems = self._problems(body)
        if problems:
            return self.error(400, problems)
        store = request.app[STORE]
        key = self._key(body)
        if key is not None and key in store.keys:
            message = self.contract.sandbox.get("conflict_message", "Conflict")
            return self.error(409, message)
        vendor_id = self._store(store, body)
        answer = {self.contract.id_field: vendor_id, **body, "createdAt": _now()}
        return web.json_response(answer, status=min(self.contract.created_statuses))

    async def records(self, request: web.Request) -> web.Response:
        """List every stored record exactly as received."""
        return web.json_response(request.app[STORE].records)

    async def reset(self, request: web.Request) -> web.Response:
        """Forget every stored record (tests use this between cases)."""
        store = request.app[STORE]
        store.records.clear()
        store.keys.clear()
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

    def error(self, status: int, message: str | list[str]) -> web.Response:
        """Answer an error in the vendor's own shape."""
        return web.json_response(self._render(status, message), status=status)


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(part)
    return doc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
