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
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonschema
from aiohttp import web

from importer.contracts.contract import ITEMS, Contract
from importer.sandbox.faults import fault_middlewares
from importer.sandbox.options import SandboxOptions
from importer.sandbox.vendors import (
    ERROR_STYLES,
    SUCCESS_STYLES,
    FieldError,
    Message,
    check_signature,
)

RECORDS_PATH = "/__sandbox__/records"
DEFAULT_WINDOW_SECONDS = 300.0
REQUIRED = re.compile(r"^'(?P<name>.+)' is a required property$")
# Short codes for org-console's errors[].message, by JSON Schema keyword.
RULE_CODES = {
    "required": "required",
    "minLength": "min_length",
    "maxLength": "max_length",
    "enum": "invalid_choice",
    "pattern": "invalid_format",
    "format": "invalid_format",
    "type": "invalid_type",
}


@dataclass(slots=True)
class _Store:
    records: list[Any] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    ids: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    signatures: dict[str, int] = field(default_factory=dict)
    """Signature -> its timestamp (ms), kept for the replay window."""


STORE = web.AppKey("store", _Store)


class Emulator:
    """The request handlers of one vendor's sandbox."""

    def __init__(self, contract: Contract, options: SandboxOptions) -> None:
        """Prepare the validator, the key fields and the answer styles from the contract."""
        self.contract = contract
        self.options = options
        self._validator = jsonschema.Draft202012Validator(
            dict(contract.request_schema),
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        self._unique = tuple(contract.sandbox.get("unique", contract.dedupe_key))
        self._render = ERROR_STYLES[contract.error_body.style]
        self._success = SUCCESS_STYLES[contract.success_style]
        self._catalog: Mapping[str, Any] = contract.sandbox.get("catalog") or {}
        auth = contract.auth
        # One account, two keys: the current set and the rotated one store alike.
        self._credential_sets = tuple(
            credentials
            for credentials in (auth.sandbox_credentials, auth.sandbox_rotated_credentials)
            if credentials
        )

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
        if self._catalog:
            app.router.add_get(self._catalog["path"], self.catalog)
        app.router.add_get(RECORDS_PATH, self.records)
        app.router.add_delete(RECORDS_PATH, self.reset)
        return app

    async def create(self, request: web.Request) -> web.Response:
        """Handle the vendor's create endpoint."""
        raw = await request.read()
        refused = self._refusal(request, raw)
        if refused is not None:
            return refused
        try:
            body = json.loads(raw)
        except ValueError:
            return self.error(400, [FieldError("", "invalid_json", "body must be valid JSON")])
        problems = self.problems(body)
        if problems:
            return self.error(400, problems)
        unavailable = self._unavailable(body)
        if unavailable:
            return self.error(int(self._catalog["status"]), unavailable)
        store = request.app[STORE]
        key = self._key(body)
        if key is not None and key in store.keys:
            return self._conflict(body)
        return self._created(store, body)

    async def catalog(self, request: web.Request) -> web.Response:
        """List the offers available to the sandbox team (``GET /reseller/catalog``)."""
        refused = self._refusal(request, b"")
        if refused is not None:
            return refused
        offers = list(self._catalog.get("offers", []))
        return web.json_response({"data": offers, "total": len(offers)})

    async def records(self, request: web.Request) -> web.Response:
        """List every stored record exactly as received."""
        return web.json_response(request.app[STORE].records)

    async def reset(self, request: web.Request) -> web.Response:
        """Forget every stored record (tests use this between cases)."""
        store = request.app[STORE]
        store.records.clear()
        store.keys.clear()
        return web.Response(status=204)

    def problems(self, body: Any) -> list[FieldError]:
        """Return what the vendor's JSON Schema refuses in ``body``, field by field."""
        errors = sorted(self._validator.iter_errors(body), key=lambda error: list(error.path))
        return [_field_error(error) for error in errors]

    def error(self, status: int, message: Message, code: str | None = None) -> web.Response:
        """Answer an error in the vendor's own shape."""
        return web.json_response(self._render(status, message, code), status=status)

    def _refusal(self, request: web.Request, raw: bytes) -> web.Response | None:
        """Return the answer to a request whose credentials the vendor refuses, else None."""
        auth = self.contract.auth
        headers = request.headers
        if auth.scheme == "api-key":
            good = headers.get(auth.header or "x-api-key") in self._accepted("api_key")
            return None if good else self.error(401, "Unauthorized")
        if auth.scheme == "bearer":
            token = headers.get("Authorization", "").removeprefix("Bearer ")
            if token in self.contract.sandbox.get("forbidden_tokens", []):
                return self.error(403, "insufficient permissions")
            good = token in self._accepted("token")
            return None if good else self.error(401, "invalid token")
        if auth.scheme == "hmac-sha256":
            return self._signature_refusal(request, raw)
        return self.error(401, "Unauthorized")

    def _signature_refusal(self, request: web.Request, raw: bytes) -> web.Response | None:
        auth = self.contract.auth
        window = auth.window_seconds or DEFAULT_WINDOW_SECONDS
        now = int(time.time() * 1000)
        verdict = check_signature(
            request.headers,
            method=request.method,
            path=request.path,
            body=raw,
            accepted=self._credential_sets,
            now_millis=now,
            window_seconds=window,
        )
        if verdict.problem is not None:
            return self.error(401, verdict.problem, verdict.code)
        seen = request.app[STORE].signatures
        for old, stamp in list(seen.items()):
            if now - stamp > window * 1000:
                del seen[old]
        signature = request.headers["x-signature"]
        if signature in seen:
            return self.error(401, "this signature was already used (replay)", "replayed_request")
        seen[signature] = int(request.headers["x-timestamp"])
        return None

    def _accepted(self, role: str) -> set[str]:
        """Return the values of ``role`` in every credential set the account accepts."""
        return {credentials[role] for credentials in self._credential_sets if credentials.get(role)}

    def _unavailable(self, body: Any) -> str | None:
        """Return why the catalog refuses the offers of ``body``, or None if it holds them all."""
        if not self._catalog:
            return None
        known = {str(offer["id"]) for offer in self._catalog.get("offers", [])}
        missing = [str(value) for value in _values(body, self._catalog["field"])]
        missing = [value for value in missing if value not in known]
        if not missing:
            return None
        return f"{self._catalog.get('message', 'Not available')}: {', '.join(missing)}"

    def _conflict(self, body: Mapping[str, Any]) -> web.Response:
        sandbox = self.contract.sandbox
        conflict = sandbox.get("conflict")
        if conflict:
            value = _dig(body, conflict["field"])
            refusal = FieldError(conflict["field"], conflict["message"], "already exists", value)
            return self.error(int(conflict["status"]), [refusal])
        message = sandbox.get("conflict_message", "Conflict")
        return self.error(409, message, sandbox.get("conflict_code"))

    def _created(self, store: _Store, body: Mapping[str, Any]) -> web.Response:
        vendor_id = self._store(store, body)
        defaults = {
            spec.path: spec.default
            for spec in self.contract.fields
            if spec.default is not None and spec.top_level
        }
        record = {"id": vendor_id, **defaults, **body, "createdAt": _now()}
        message = self.contract.sandbox.get("success_message", "Created")
        answer = self._success(record, message)
        return web.json_response(answer, status=min(self.contract.created_statuses))

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


def _field_error(error: jsonschema.ValidationError) -> FieldError:
    where = ".".join(str(part) for part in error.absolute_path)
    code = RULE_CODES.get(str(error.validator), str(error.validator))
    missing = REQUIRED.match(error.message) if error.validator == "required" else None
    if missing:
        key = f"{where}.{missing['name']}" if where else missing["name"]
        return FieldError(key, code, error.message, None, where=where)
    return FieldError(where, code, error.message, error.instance)


def _values(body: Any, path: str) -> list[Any]:
    """Return the values at a field path, through an array of objects (``items[].offerId``)."""
    array_path, mark, leaf = path.partition(f"{ITEMS}.")
    if not mark:
        found = _dig(body, path)
        return [] if found is None else [found]
    items = _dig(body, array_path)
    if not isinstance(items, list):
        return []
    return [item.get(leaf) for item in items if isinstance(item, Mapping) and leaf in item]


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(part)
    return doc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
