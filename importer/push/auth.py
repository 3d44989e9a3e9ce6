"""Credentials from the environment, and the headers that present them to a vendor.

A credential is a secret: it is kept out of ``repr``, logs, reports and exceptions (push
redacts it from whatever a vendor echoes, see ``importer.redact``). It is checked when read: a
value a header cannot carry is refused before anything is sent.

Schemes (a contract's ``auth.scheme``):

- ``api-key``: the key in the contract's header (``x-api-key``).
- ``bearer``: ``Authorization: Bearer <token>``.
- ``hmac-sha256``: ``x-client-id``, ``x-timestamp`` (Unix milliseconds), ``x-signature`` (hex
  HMAC-SHA256 keyed by the client secret over ``"<timestamp>\n<METHOD>\n<path>\n"`` followed
  by the exact body bytes sent) and ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from importer.contracts.contract import Contract
from importer.errors import ConfigError, MissingCredential, UnusableCredential


@dataclass(frozen=True, slots=True)
class Credentials:
    """The secrets of one vendor account, by role (``api_key``, ``token``...)."""

    secrets: Mapping[str, str] = field(repr=False)

    def __repr__(self) -> str:
        """Show the roles, never the secrets."""
        return f"Credentials(roles={sorted(self.secrets)})"


def credentials_from_env(
    contract: Contract, env: Mapping[str, str], *, fallback: Mapping[str, str] | None = None
) -> Credentials:
    """Read the contract's credential variables from ``env``.

    ``fallback`` supplies a role whose variable is unset (the embedded sandbox's own keys).

    Raises:
        MissingCredential: when a variable is unset or empty and has no fallback.
        UnusableCredential: when a value holds a line break, a control character or a
            character outside ASCII, which no HTTP header can carry.
    """
    secrets: dict[str, str] = {}
    for role, variable in contract.auth.credentials.items():
        value = env.get(variable, "").strip()
        if not value and fallback and fallback.get(role):
            value = fallback[role]
        if not value:
            raise MissingCredential(
                f"{variable} is not set: export the {contract.title} credential as {variable} "
                f"before running (see `importer vendors`)"
            )
        problem = unusable(value)
        if problem:
            raise UnusableCredential(
                f"{variable} holds {problem}, which an HTTP header cannot carry: export it "
                f"again as the vendor issued it (its value is not shown)"
            )
        secrets[role] = value
    return Credentials(secrets)


def unusable(value: str) -> str | None:
    """Return what in a credential no HTTP header can carry, or None if it can be sent.

    Said in words that never quote the value: a line break, a control character, or a
    character outside printable ASCII (httpx encodes header values as ASCII).
    """
    if len(value.splitlines()) > 1:
        return "a line break"
    if any(unicodedata.category(char) == "Cc" for char in value):
        return "a control character"
    if not value.isascii():
        return "a character outside ASCII"
    return None


def auth_headers(
    contract: Contract,
    credentials: Credentials,
    *,
    method: str,
    path: str,
    body: bytes,
    now: Callable[[], float] | None = None,
) -> dict[str, str]:
    """Return the headers that authenticate one request (a signature covers these bytes).

    Called afresh for every attempt, so a signed request is signed again on each retry, with a
    new timestamp. ``now`` (seconds since the epoch) replaces the clock, for tests.

    Raises:
        ConfigError: when the contract names a scheme this module does not know.
    """
    scheme = contract.auth.scheme
    secrets = credentials.secrets
    if scheme == "api-key":
        header = contract.auth.header or "x-api-key"
        return {header: secrets["api_key"]}
    if scheme == "bearer":
        return {"Authorization": f"Bearer {secrets['token']}"}
    if scheme == "hmac-sha256":
        stamp = str(int(now() * 1000)) if now is not None else str(_unique_millis())
        return {
            "Authorization": f"Bearer {secrets['token']}",
            "x-client-id": secrets["client_id"],
            "x-timestamp": stamp,
            "x-signature": sign(secrets["client_secret"], stamp, method, path, body),
        }
    raise ConfigError(f"{contract.id}: unsupported auth scheme {scheme!r}")


def sign(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of one request, keyed by ``secret``."""
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class _MillisClock:
    """Unix time in milliseconds that never hands out the same value twice in this process.

    The vendor refuses a signature it has seen, so two attempts signed within one millisecond
    must still carry different timestamps.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def __call__(self) -> int:
        with self._lock:
            self._last = max(int(time.time() * 1000), self._last + 1)
            return self._last


_unique_millis = _MillisClock()
