"""Secrets never leak: distinctive fake credentials through every failure path, then a search
of every byte written (stdout, stderr, reports, the ledger) for them in any common spelling."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import stat
import threading
import traceback
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from importer.cli import main
from importer.contracts.contract import Contract
from importer.errors import UnusableCredential
from importer.lifecycle import RowOutcome, State, Verdict
from importer.payload import Record
from importer.push.auth import Credentials, credentials_from_env
from importer.push.classify import classify_response, classify_transport_error
from importer.push.settings import PushSettings
from importer.push.workers import Pusher
from importer.redact import REDACTED, Redactor, safe_url
from importer.sandbox import EmbeddedSandbox, SandboxOptions, start_site
from tests.conftest import stored_records

SECRET = "sk-LEAK/7f3a+9c=Q"
URL_PASSWORD = "pw-LEAK-91b2e"
URL_TOKEN = "tok-LEAK-55e0d"
MARKER = b"LEAK"
"""Every fake secret holds it: finding it anywhere means some part of a secret got out."""

SHEET = """Full Name,Email,Type
Ada Lovelace,ada@example.com,lead
Bad Email,not-an-email,lead
Ada Again,ada@example.com,lead
Grace Hopper,grace@example.com,customer
Wrong Kind,kind@example.com,prospect
"""
NO_EMAILS = """Full Name,Type
Grace Hopper,customer
Alan Turing,lead
"""
"""Rows a vendor cannot detect a re-send of: a lost answer is not retried, so the test is fast."""


def spellings(secret: str) -> list[bytes]:
    """Return the ways a secret may be written: as is, base64, URL-encoded, escaped."""
    raw = secret.encode()
    forms = {
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
        quote(secret, safe="").encode(),
        quote_plus(secret).encode(),
        json.dumps(secret)[1:-1].encode(),
    }
    return sorted(forms)


FORBIDDEN = [
    *spellings(SECRET),
    *spellings(URL_PASSWORD),
    *spellings(f"ops:{URL_PASSWORD}"),
    *spellings(URL_TOKEN),
    MARKER,
]


def written(root: Path) -> Iterator[tuple[str, bytes]]:
    """Yield every file under ``root`` with its bytes, and every member of every zip file."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{path}!{member}", archive.read(member)


def assert_nothing_leaked(root: Path, *texts: str) -> None:
    """Fail if any spelling of any fake secret is in ``texts`` or any file under ``root``."""
    places = [(f"text {index}", text.encode()) for index, text in enumerate(texts)]
    places += list(written(root))
    leaks = [(where, form) for where, data in places for form in FORBIDDEN if form in data]
    assert not leaks, leaks


def cli(root: Path, sheet: str, *options: str, env: dict[str, str]) -> Result:
    """Run ``importer run`` in process on ``sheet``, with its ledger and report under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "sheet.csv"
    path.write_text(sheet, encoding="utf-8")
    args = ["run", str(path), "--vendor", "offergrid-leads"]
    args += ["--state", str(root / "state"), "--out", str(root / "out"), *options]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), outputs(result)
    return result


def outputs(result: Result) -> tuple[str, str, str]:
    """Return stdout, stderr, and the traceback of an unexpected crash (empty if none)."""
    crash = ""
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        crash = "".join(traceback.format_exception(*result.exc_info))
    return result.stdout, result.stderr, crash


def rows(root: Path) -> list[dict[str, str]]:
    """Return the run's rows.csv, parsed."""
    with (root / "out" / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_state_is_private(root: Path) -> None:
    """The ledger's directory is its owner's alone (0700), and so is every file in it (0600)."""
    state = root / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [path for path in state.iterdir() if path.is_file()]
    assert any(path.name.endswith(".sqlite") for path in files), files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.fixture
def keyed_contract(leads_contract: Contract) -> Contract:
    """Return OfferGrid leads whose sandbox accepts the fake secret as its API key."""
    auth = replace(
        leads_contract.auth,
        sandbox_credentials={"api_key": SECRET},
        sandbox_rotated_credentials={},
    )
    return replace(leads_contract, auth=auth)


ENV = {"OFFERGRID_API_KEY": SECRET}


@pytest.mark.parametrize(
    ("options", "sheet", "expected_reasons"),
    [
        (SandboxOptions(), SHEET, {"created", "validation", "duplicate_in_file"}),
        (SandboxOptions(auth_fail_after=1), SHEET, {"created", "aborted"}),
        (SandboxOptions(fail_rate=1.0), NO_EMAILS, {"outcome_unknown"}),
        (SandboxOptions(drop_rate=1.0), NO_EMAILS, {"outcome_unknown"}),
    ],
    ids=["validation-and-conflict", "refused-midway", "5xx", "dropped-answers"],
)
def test_sandbox_failure_paths_leak_nothing(
    tmp_path: Path,
    keyed_contract: Contract,
    options: SandboxOptions,
    sheet: str,
    expected_reasons: set[str],
) -> None:
    with EmbeddedSandbox(keyed_contract, replace(options, seed=7)) as sandbox:
        result = cli(tmp_path, sheet, "--base-url", sandbox.base_url, env=ENV)
    assert result.exit_code in (0, 1, 2), outputs(result)
    assert expected_reasons <= {row["reason"] for row in rows(tmp_path)}
    assert_nothing_leaked(tmp_path, *outputs(result))
    assert_state_is_private(tmp_path)


def test_a_refused_key_leaks_nothing(tmp_path: Path, leads_sandbox: EmbeddedSandbox) -> None:
    result = cli(tmp_path, SHEET, "--base-url", leads_sandbox.base_url, env=ENV)
    assert result.exit_code == 2, outputs(result)
    assert "run aborted: the vendor refused the credentials" in result.stderr
    assert "OFFERGRID_API_KEY" in result.stderr
    assert_nothing_leaked(tmp_path, *outputs(result))
    assert_state_is_private(tmp_path)


class EchoVendor:
    """A vendor that quotes the key it was sent in its error bodies, in several spellings."""

    def __init__(self, status: int, *, as_json: bool = True) -> None:
        """Answer every create request with ``status``, echoing the key."""
        self._status = status
        self._as_json = as_json
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def _answer(self, request: web.Request) -> web.Response:
        key = request.headers.get("x-api-key", "")
        words = [
            f"api key {key} is not allowed to create customers",
            f"encoded {base64.b64encode(key.encode()).decode()}",
            f"see https://user:{URL_PASSWORD}@docs.example.com/keys?key={quote(key, safe='')}",
            f"authorization {request.headers.get('authorization', '')}",
        ]
        if not self._as_json:
            return web.Response(status=self._status, text=" / ".join(words))
        body = {"statusCode": self._status, "message": words, "error": "Echo"}
        return web.json_response(body, status=self._status)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/reseller/customers", self._answer)
        self._runner, url = await start_site(app, "127.0.0.1", 0)
        return url

    def __enter__(self) -> EchoVendor:
        """Start serving on a free loopback port."""
        self._thread.start()
        self.base_url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *_: object) -> None:
        """Stop serving."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


@pytest.mark.parametrize(
    ("status", "as_json"),
    [(400, True), (422, False), (502, False), (401, True)],
    ids=["400-json", "422-text", "502-text", "401-json"],
)
def test_a_vendor_echoing_the_key_leaks_nothing(tmp_path: Path, status: int, as_json: bool) -> None:
    with EchoVendor(status, as_json=as_json) as vendor:
        base_url = vendor.base_url.replace("//", f"//ops:{URL_PASSWORD}@")
        result = cli(tmp_path, NO_EMAILS, "--base-url", base_url, env=ENV)
    assert result.exit_code in (1, 2), outputs(result)
    messages = " ".join(row["message"] for row in rows(tmp_path))
    assert REDACTED in messages + result.stderr
    assert "is not allowed to create customers" in messages + result.stderr
    assert_nothing_leaked(tmp_path, *outputs(result))
    assert_state_is_private(tmp_path)


def test_a_base_url_with_user_password_and_token_is_never_shown(tmp_path: Path) -> None:
    closed = f"http://ops:{URL_PASSWORD}@127.0.0.1:9/"
    result = cli(tmp_path, SHEET, "--base-url", closed, env=ENV)
    assert result.exit_code == 2, outputs(result)
    assert "cannot reach the vendor at http://127.0.0.1:9/ (could not connect" in result.stderr
    assert_nothing_leaked(tmp_path, *outputs(result))
    with_token = f"{closed}?token={URL_TOKEN}"
    result = cli(tmp_path, SHEET, "--base-url", with_token, env=ENV)
    assert result.exit_code == 2, outputs(result)
    assert "must not carry a query or fragment" in result.stderr
    assert_nothing_leaked(tmp_path, *outputs(result))


def test_a_base_url_that_is_not_http_is_refused_without_its_secrets(tmp_path: Path) -> None:
    for url in (f"ftp://ops:{URL_PASSWORD}@host/?token={URL_TOKEN}", f"ops:{URL_PASSWORD}@host"):
        result = cli(tmp_path, SHEET, "--base-url", url, env=ENV)
        assert result.exit_code == 2, outputs(result)
        assert "is not an http(s) URL" in result.stderr
        assert_nothing_leaked(tmp_path, *outputs(result))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("sk-LEAK\n7f3a9c", "a line break"),
        ("sk-LEAK\r\n7f3a9c", "a line break"),
        ("sk-LEAK\u20287f3a9c", "a line break"),
        ("sk-LEAK\t7f3a9c", "a control character"),
        ("sk-LEAK\x017f3a9c", "a control character"),
        ("sk-LEAK\x7f7f3a9c", "a control character"),
        ("sk-LEAK-7f3a9cé", "a character outside ASCII"),
        ("sk-LEAK-7f3a9c€", "a character outside ASCII"),
    ],
)
def test_a_credential_no_header_can_carry_is_refused_up_front(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox, value: str, problem: str
) -> None:
    result = cli(
        tmp_path, SHEET, "--base-url", leads_sandbox.base_url, env={"OFFERGRID_API_KEY": value}
    )
    assert result.exit_code == 2, outputs(result)
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "OFFERGRID_API_KEY" in line and problem in line
    assert not (tmp_path / "out" / "rows.csv").exists()
    assert_nothing_leaked(tmp_path, *outputs(result))


def test_credentials_are_checked_when_read(leads_contract: Contract) -> None:
    with pytest.raises(UnusableCredential, match="OFFERGRID_API_KEY holds a line break") as caught:
        credentials_from_env(leads_contract, {"OFFERGRID_API_KEY": "sk-LEAK\nx"})
    assert "LEAK" not in str(caught.value)
    padded = credentials_from_env(leads_contract, {"OFFERGRID_API_KEY": "  sk-ok-123\n"})
    assert padded.secrets == {"api_key": "sk-ok-123"}
    assert "fingerprint" not in repr(padded) and "sk-ok" not in repr(padded)


def push(
    contract: Contract, base_url: str, credentials: Credentials, settings: PushSettings
) -> dict[int, RowOutcome]:
    records = [Record(2, {"fullName": "Grace Hopper"}), Record(3, {"fullName": "Alan Turing"})]

    async def go() -> dict[int, RowOutcome]:
        async with Pusher(
            contract=contract, base_url=base_url, credentials=credentials, settings=settings
        ) as pusher:
            outcomes = await pusher.push(records)
            assert pusher.abort_reason is None or MARKER.decode() not in pusher.abort_reason
            return outcomes

    return asyncio.run(go())


@pytest.mark.parametrize(
    "value", ["sk-LEAK\n7f3a9c", "sk-LEAK\x007f3a9c", " sk-LEAK-7f3a9c", "sk-LEAK-7f3a9cé"]
)
def test_a_header_the_http_library_refuses_is_never_sent_and_stops_the_run(
    leads_contract: Contract, leads_sandbox: EmbeddedSandbox, value: str
) -> None:
    outcomes = push(
        leads_contract,
        leads_sandbox.base_url,
        Credentials({"api_key": value}),
        PushSettings(concurrency=1, max_attempts=3, backoff_initial_seconds=0.01),
    )
    assert {outcome.state for outcome in outcomes.values()} == {State.SKIPPED}
    assert all(outcome.attempts <= 1 for outcome in outcomes.values())
    for outcome in outcomes.values():
        assert "not sent" in outcome.message and "OFFERGRID_API_KEY" in outcome.message
        assert "LEAK" not in outcome.message


def test_timeouts_leak_nothing(keyed_contract: Contract) -> None:
    with EmbeddedSandbox(keyed_contract, SandboxOptions(latency_ms=400)) as sandbox:
        outcomes = push(
            keyed_contract,
            sandbox.base_url.replace("//", f"//ops:{URL_PASSWORD}@"),
            Credentials({"api_key": SECRET}),
            PushSettings(concurrency=2, max_attempts=1, timeout_seconds=0.05),
        )
    assert {outcome.state for outcome in outcomes.values()} == {State.UNKNOWN}
    for outcome in outcomes.values():
        assert "Timeout" in outcome.message and "LEAK" not in outcome.message


def test_redactor_replaces_every_spelling_and_spares_short_values() -> None:
    redact = Redactor([SECRET, "abc"])
    for form in spellings(SECRET):
        assert redact(f"key {form.decode()} here") == f"key {REDACTED} here"
    assert redact("abc abc") == "abc abc"
    assert "LEAK" not in repr(redact)
    assert redact(f"at https://u:{URL_PASSWORD}@Host.example/x?t={URL_TOKEN}.") == (
        "at https://host.example/x."
    )
    assert redact("see http://a.example/?k=v; or http://b.example/p#f, then") == (
        "see http://a.example/; or http://b.example/p, then"
    )


def test_safe_url_keeps_host_port_and_path_only() -> None:
    assert safe_url("https://u:p@API.example.com:8443/v1?token=t#f") == (
        "https://api.example.com:8443/v1"
    )
    assert safe_url("http://u:p@[::1]:8080/") == "http://[::1]:8080/"
    assert safe_url("u:p@host") == "host"
    assert safe_url("api.example.com") == "api.example.com"


def test_classify_redacts_vendor_text_and_never_keeps_a_refused_header(
    leads_contract: Contract,
) -> None:
    redact = Redactor([SECRET])
    body = json.dumps({"statusCode": 400, "message": [f"bad key {SECRET}"]}).encode()
    answer = classify_response(400, httpx.Headers(), body, leads_contract, redact=redact)
    assert answer.message == f"400 Bad Request: bad key {REDACTED}"
    request = httpx.Request("POST", "http://127.0.0.1/")
    reset = httpx.ReadError(f"reset while sending {SECRET}", request=request)
    assert SECRET not in classify_transport_error(reset, redact=redact).message
    refused = httpx.LocalProtocolError(f"Illegal header value b'{SECRET}\\n'", request=request)
    answer = classify_transport_error(refused, redact=redact)
    assert answer.verdict is Verdict.FATAL and answer.http_status is None
    assert "LEAK" not in answer.message and "refused to send a header value" in answer.message


def test_a_crash_in_the_report_writer_leaks_nothing(
    tmp_path: Path, keyed_contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("importer.report.writer.write_xlsx", disk_full)
    with EmbeddedSandbox(keyed_contract, SandboxOptions(seed=7)) as sandbox:
        root = tmp_path
        (root / "sheet.csv").write_text(SHEET, encoding="utf-8")
        args = ["run", str(root / "sheet.csv"), "--vendor", "offergrid-leads"]
        args += ["--state", str(root / "state"), "--out", str(root / "out")]
        args += ["--base-url", sandbox.base_url, "--log-format", "json", "--verbose"]
        result = CliRunner().invoke(main, args, env=ENV)
        sent = len(stored_records(sandbox.base_url))
    assert sent > 0  # rows were sent before the report failed
    assert result.exit_code == 2, outputs(result)
    assert (root / "out" / "INCOMPLETE.txt").exists()
    assert "No space left on device" in result.stdout + result.stderr
    assert "importer report --run" in result.stdout + result.stderr
    assert_nothing_leaked(tmp_path, *outputs(result))
    assert_state_is_private(tmp_path)
