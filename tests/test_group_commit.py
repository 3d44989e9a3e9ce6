"""Group commit keeps the ledger's promises, seen from outside the importer.

A vendor on loopback reads the ledger file (its own read-only connection) the moment each
request reaches it: the row must already be ``sending`` there (intent before send). The run's
observer reads it the moment an outcome counts: the outcome must already be committed. The
importer runs whole (``run_import``) with many workers, so claims and outcomes share batches.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from importer.config import RunConfig
from importer.contracts.contract import load_contract
from importer.ledger.sqlite import LEDGER_FILE
from importer.lifecycle import RowOutcome, State
from importer.pipeline.run import run_import
from importer.push.settings import PushSettings
from importer.sandbox import EmbeddedSandbox, SandboxOptions
from importer.sandbox.server import start_site
from tests.conftest import stored_records

ROWS = 300


def ledger_state(state_dir: Path, query: str, *args: object) -> str | None:
    """Return one state from the ledger file, read through a connection of its own."""
    with sqlite3.connect(f"file:{state_dir / LEDGER_FILE}?mode=ro", uri=True, timeout=30) as db:
        found = db.execute(query, args).fetchone()
    return None if found is None else str(found[0])


@dataclass
class Witness:
    """A vendor that notes, for each request, the row's state in the ledger as it arrives."""

    state_dir: Path
    seen: dict[str, str | None] = field(default_factory=dict)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = f"key:{body['email']}"
        self.seen[body["email"]] = await asyncio.to_thread(
            ledger_state, self.state_dir, "SELECT state FROM rows WHERE row_key=?", key
        )
        return web.json_response({"id": f"cus_{len(self.seen)}"}, status=201)


@contextmanager
def serve(witness: Witness) -> Iterator[str]:
    """Serve the witness on loopback from a thread of its own; yield its base URL."""
    app = web.Application()
    app.router.add_post("/reseller/customers", witness.create)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner, url = asyncio.run_coroutine_threadsafe(start_site(app, "127.0.0.1", 0), loop).result()
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


class CheckCommitted:
    """An observer that reads a sent row's outcome from the ledger file as it counts."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.counted: list[tuple[int, str | None]] = []

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        for outcome in outcomes:
            if outcome.state is State.CREATED:
                query = "SELECT state FROM run_rows WHERE source_row=?"
                state = ledger_state(self.state_dir, query, outcome.source_row)
                self.counted.append((outcome.source_row, state))

    def note(self, message: str) -> None:
        """Ignore the message."""

    def started(self, total_rows: int | None) -> None:
        """Ignore the estimate."""

    def rows_read(self, count: int) -> None:
        """Ignore the count."""


def test_each_request_leaves_after_its_claim_and_each_outcome_counts_after_its_commit(
    tmp_path: Path,
) -> None:
    sheet = tmp_path / "people.csv"
    with sheet.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email"])
        writer.writerows([f"P{row}", f"p{row}@example.com"] for row in range(ROWS))
    state_dir = tmp_path / "state"
    witness = Witness(state_dir)
    observer = CheckCommitted(state_dir)
    with serve(witness) as url:
        result = run_import(
            RunConfig(
                sheet_path=sheet,
                vendor="offergrid-leads",
                out_dir=tmp_path / "out",
                base_url=url,
                state_dir=state_dir,
                push=PushSettings(concurrency=16),
            ),
            env={"OFFERGRID_API_KEY": "k1"},
            observer=observer,
        )
    assert result.totals.created == ROWS
    assert set(witness.seen.values()) == {"sending"}, "a request left before its claim"
    assert len(witness.seen) == ROWS
    assert len({row for row, _ in observer.counted}) == len(observer.counted) == ROWS
    assert {state for _, state in observer.counted} == {"created"}, "counted before committed"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["totals"]["created"] == ROWS


def test_rows_claimed_ahead_of_a_stop_go_back_to_planned(tmp_path: Path) -> None:
    """Leads with an email are claimed ahead; when 401s stop the run, none stays in doubt."""
    sheet = tmp_path / "people.csv"
    with sheet.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email"])
        writer.writerows([f"P{row}", f"p{row}@example.com"] for row in range(ROWS))
    state_dir = tmp_path / "state"
    contract = load_contract("offergrid-leads")
    with EmbeddedSandbox(contract, SandboxOptions(auth_fail_after=40)) as sandbox:
        result = run_import(
            RunConfig(
                sheet_path=sheet,
                vendor="offergrid-leads",
                out_dir=tmp_path / "out",
                base_url=sandbox.base_url,
                state_dir=state_dir,
                push=PushSettings(concurrency=16),
            ),
            env={"OFFERGRID_API_KEY": "sandbox-offergrid-key"},
        )
        stored = len(stored_records(sandbox.base_url))
    assert result.aborted and "refused the credentials" in result.aborted
    with sqlite3.connect(f"file:{state_dir / LEDGER_FILE}?mode=ro", uri=True) as db:
        states = dict(db.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())
    assert states.get("sending", 0) == 0, states
    assert states["created"] == result.totals.created == stored == 40
    assert states.get("planned", 0) > 0  # claimed ahead, never sent, released
