"""Credentials from the environment, and the headers that present them to a vendor.

A credential is a secret: it is kept out of ``repr``, logs, reports and exceptions. Only its
fingerprint (a short hash) may be shown or stored, to tell accounts apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from importer.contract import Contract
from importer.errors import ConfigError, MissingCredential


@dataclass(frozen=True, slots=True)
class Credentials:
    """The secrets of one vendor account, by role (``api_key``, ``token``...)."""

    secrets: Mapping[str, str] = field(repr=False)

    def __repr__(self) -> str:
        """Show the roles and the fingerprint, never the secrets."""
        return f"Credentials(roles={sorted(self.secrets)}, fingerprint={self.fingerprint})"

    @property
    def fingerprint(self) -> str:
        """Return a short hash that identifies the account without revealing it."""
        digest = hashlib.sha256()
        for role in sorted(self.secrets):
            digest.update(f"{role}\0{self.secrets[role]}\0".encode())
        return digest.hexdigest()[:12]


def credentials_from_env(
    contract: Contract, env: Mapping[str, str], *, fallback: Mapping[str, str] | None = None
) -> Credentials:
    """Read the contract's credential variables from ``env``.

    ``fallback`` supplies a role whose variable is unset (the embedded sandbox's own keys).

    Raises:
        MissingCredential: when a variable is unset or empty and has no fallback.
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
        secrets[role] = value
    return Credentials(secrets)


def auth_headers(
    contract: Contract, credentials: Credentials, *, method: str, path: str, body: bytes
) -> dict[str, str]:
    """Return the headers that authenticate one request (a signature covers these bytes).

    Called afresh for every attempt, so a signed request is signed again on each retry.
    """
    scheme = contract.auth.scheme
    if scheme == "api-key":
        header = contract.auth.header or "x-api-key"
        return {header: credentials.secrets["api_key"]}
    if scheme == "bearer":
        return {"Authorization": f"Bearer {credentials.secrets['token']}"}
    raise ConfigError(f"{contract.id}: unsupported auth scheme {scheme!r}")
