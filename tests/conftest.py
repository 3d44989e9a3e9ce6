"""Shared fixtures: real sandboxes on loopback, real files, the shipped contracts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from importer.contracts.contract import Contract, load_contract
from importer.sandbox import EmbeddedSandbox, SandboxOptions

pytest_plugins = ["tests.postgres_server"]  # a private PostgreSQL server: postgres_url

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "sample_data"
CORPORA = REPO / "tests" / "corpora"


@pytest.fixture(autouse=True)
def private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep every test's default ledger out of the user's real state directory."""
    home = tmp_path_factory.mktemp("state-home")
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


@pytest.fixture
def leads_contract() -> Contract:
    """Return the OfferGrid leads contract."""
    return load_contract("offergrid-leads")


@pytest.fixture
def leads_sandbox(leads_contract: Contract) -> Iterator[EmbeddedSandbox]:
    """Serve an OfferGrid leads sandbox on loopback for one test."""
    with EmbeddedSandbox(leads_contract, SandboxOptions()) as sandbox:
        yield sandbox


def stored_records(base_url: str) -> list[dict[str, object]]:
    """Return what a sandbox stored, over HTTP."""
    response = httpx.get(f"{base_url}/__sandbox__/records", timeout=10)
    response.raise_for_status()
    records: list[dict[str, object]] = response.json()
    return records
