"""The push stage against the sandbox over loopback: outcomes, retries, abort on 401."""

from __future__ import annotations

import asyncio
import http.server
import threading
from dataclasses import replace

from importer.contracts.contract import Contract
from importer.lifecycle import Reason, RowOutcome, State, Status, resend_is_safe
from importer.payload import Record
from importer.push.auth import Credentials
from importer.push.settings import PushSettings
from importer.push.workers import Pusher
from importer.sandbox import EmbeddedSandbox, SandboxOptions
from tests.conftest import stored_records

GOOD = Credentials({"api_key": "sandbox-offergrid-key"})
FAST = PushSettings(
    concurrency=4, max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.05
)


def push(
    contract: Contract,
    base_url: str,
    records: list[Record],
    *,
    credentials: Credentials = GOOD,
    settings: PushSettings = FAST,
) -> dict[int, RowOutcome]:
    # As build_records does: a row may be re-sent only where the vendor would detect it.
    records = [
        replace(record, resend_safe=resend_is_safe(contract.duplicates_detected_by, record.body))
        for record in records
    ]

    async def go() -> dict[int, RowOutcome]:
        async with Pusher(
            contract=contract, base_url=base_url, credentials=credentials, settings=settings
        ) as pusher:
            return await pusher.push(records)

    return asyncio.run(go())


def test_created_conflicted_and_rejected(
    leads_contract: Contract, leads_sandbox: EmbeddedSandbox
) -> None:
    records = [
        Record(2, {"fullName": "Ada", "email": "ada@example.com"}),
        Record(3, {"fullName": "Ada again", "email": "ada@example.com"}),
        Record(4, {"fullName": "Bad", "kind": "prospect"}),
    ]
    outcomes = push(leads_contract, leads_sandbox.base_url, records[:1])
    outcomes |= push(leads_contract, leads_sandbox.base_url, records[1:])
    assert outcomes[2].status is Status.CREATED
    assert outcomes[2].vendor_id is not None and outcomes[2].vendor_id.startswith("cus_")
    assert outcomes[2].attempts == 1
    assert (outcomes[3].status, outcomes[3].reason, outcomes[3].http_status) == (
        Status.CONFLICTED,
        Reason.ALREADY_EXISTS,
        409,
    )
    assert outcomes[4].status is Status.FAILED
    assert outcomes[4].reason is Reason.VENDOR_REJECTED
    assert "kind: 'prospect' is not one of" in outcomes[4].message
    assert stored_records(leads_sandbox.base_url) == [records[0].body]


def test_bad_credentials_abort_and_skip_the_rest(
    leads_contract: Contract, leads_sandbox: EmbeddedSandbox
) -> None:
    records = [Record(row, {"fullName": f"P{row}"}) for row in range(2, 40)]
    outcomes = push(
        leads_contract,
        leads_sandbox.base_url,
        records,
        credentials=Credentials({"api_key": "wrong"}),
    )
    assert set(outcomes) == {record.source_row for record in records}
    assert {outcome.status for outcome in outcomes.values()} == {Status.SKIPPED}
    assert {outcome.reason for outcome in outcomes.values()} == {Reason.ABORTED}
    sent = [outcome for outcome in outcomes.values() if outcome.attempts]
    assert 1 <= len(sent) <= FAST.concurrency
    assert all(outcome.http_status == 401 for outcome in sent)
    assert "401 Unauthorized" in outcomes[39].message
    assert "wrong" not in outcomes[39].message
    assert stored_records(leads_sandbox.base_url) == []


def test_server_errors_are_retried_only_for_rows_the_vendor_would_detect(
    leads_contract: Contract,
) -> None:
    """A 500 may have stored the lead: OfferGrid detects a re-sent lead by its email only."""
    with_email = Record(2, {"fullName": "A", "email": "a@example.com"})
    without = Record(3, {"fullName": "B"})
    with EmbeddedSandbox(leads_contract, SandboxOptions(fail_rate=1.0)) as sandbox:
        outcomes = push(leads_contract, sandbox.base_url, [with_email, without])
    assert outcomes[2].status is Status.FAILED
    assert outcomes[2].reason is Reason.RETRIES_EXHAUSTED
    assert outcomes[2].attempts == FAST.max_attempts
    assert "500 Internal Server Error" in outcomes[2].message
    assert (outcomes[3].state, outcomes[3].reason) == (State.UNKNOWN, Reason.OUTCOME_UNKNOWN)
    assert outcomes[3].attempts == 1
    assert "importer settle" in outcomes[3].message


def test_flaky_vendor_still_creates_each_record_once(leads_contract: Contract) -> None:
    records = [
        Record(row, {"fullName": f"P{row}", "email": f"p{row}@example.com"}) for row in range(2, 62)
    ]
    settings = PushSettings(
        concurrency=8, max_attempts=12, backoff_initial_seconds=0.001, backoff_max_seconds=0.01
    )
    with EmbeddedSandbox(leads_contract, SandboxOptions(fail_rate=0.3, seed=7)) as sandbox:
        outcomes = push(leads_contract, sandbox.base_url, records, settings=settings)
        stored = stored_records(sandbox.base_url)
    assert {outcome.status for outcome in outcomes.values()} == {Status.CREATED}
    assert sorted(str(body["email"]) for body in stored) == sorted(
        str(record.body["email"]) for record in records
    )
    assert max(outcome.attempts for outcome in outcomes.values()) > 1


def test_unreachable_vendor_stops_the_run(leads_contract: Contract) -> None:
    records = [Record(row, {"fullName": f"P{row}"}) for row in range(2, 12)]
    outcomes = push(leads_contract, "http://127.0.0.1:9", records)
    assert {outcome.status for outcome in outcomes.values()} == {Status.SKIPPED}
    assert {outcome.reason for outcome in outcomes.values()} == {Reason.ABORTED}
    assert "cannot reach the vendor at http://127.0.0.1:9" in outcomes[2].message


class _HugeAnswer(http.server.BaseHTTPRequestHandler):
    """A vendor that answers every create with a 400 whose body is 20 MB of text."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(400)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(20 * 1024 * 1024))
        self.end_headers()
        block = b"x" * 1024 * 1024
        try:
            for _ in range(20):
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its limit, as it should

    def log_message(self, *args: object) -> None:
        """Stay quiet."""


def test_a_runaway_answer_is_read_only_up_to_the_limit(leads_contract: Contract) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HugeAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = replace(FAST, max_response_bytes=64 * 1024)
        outcomes = push(leads_contract, url, [Record(2, {"fullName": "A"})], settings=settings)
    finally:
        server.shutdown()
        server.server_close()
    assert (outcomes[2].status, outcomes[2].reason) == (Status.FAILED, Reason.VENDOR_REJECTED)
    assert outcomes[2].message.startswith("400 Bad Request: xxx")
    assert len(outcomes[2].message) < 1_000
