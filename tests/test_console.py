"""What a run prints: JSON lines, one line per event without a terminal, a live line on one,
and never a secret in any of them (issue 10: --log-format json and --verbose included)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from importer.cli.console import Console, ConsoleObserver, LogFormat, _duration, _Progress
from importer.contracts.contract import Contract
from importer.lifecycle import Reason, RowOutcome, State
from importer.redact import REDACTED
from importer.sandbox import EmbeddedSandbox
from tests.conftest import SAMPLE_DATA
from tests.test_secrets import (
    FORBIDDEN,
    NO_EMAILS,
    SECRET,
    SHEET,
    URL_PASSWORD,
    EchoVendor,
    assert_nothing_leaked,
)

LEADS = SAMPLE_DATA / "leads.csv"
CREDENTIAL_VARIABLES = {"OFFERGRID_API_KEY", "ACME_OFFERGRID_KEY"}


def importer(
    *args: str, env: dict[str, str] | None = None, stderr: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """Run ``importer ARGS...`` in a process without a terminal (unless ``stderr`` is one)."""
    base = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "importer", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**base, **(env or {})},
        timeout=300,
        check=False,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    """Parse every line of ``stdout`` as a JSON object with time, level, event and message."""
    parsed = []
    for line in stdout.splitlines():
        event = json.loads(line)
        assert isinstance(event, dict), line
        assert {"time", "level", "event", "message"} <= set(event), line
        assert datetime.fromisoformat(event["time"]).tzinfo is not None
        assert event["level"] in {"info", "warning", "error"}
        parsed.append(event)
    return parsed


@pytest.fixture
def sandbox_process() -> Iterator[str]:
    """Serve `importer sandbox offergrid-leads` in its own process; yield its base URL."""
    yield from _sandbox_process()


@pytest.fixture
def slow_refusing_sandbox() -> Iterator[str]:
    """A sandbox process that answers slowly and refuses the credentials after 40 requests."""
    yield from _sandbox_process("--latency-ms", "30", "--auth-fail-after", "40")


def _sandbox_process(*options: str) -> Iterator[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "importer", "sandbox", "offergrid-leads", *options]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert found, "the sandbox did not announce its URL"
        yield found.group(0)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_json_lines_tell_the_whole_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(LEADS), "--vendor", "offergrid-leads", "--sandbox", "--out", str(out)]
    result = importer(*args, "--state", str(tmp_path / "state"), "--log-format", "json", "-v")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    logged = events(result.stdout)
    names = [event["event"] for event in logged]
    assert names[0] == "note" and "embedded sandbox for offergrid-leads" in logged[0]["message"]
    assert names[1] == "started" and names[-1] == "finished"
    started, finished = logged[1], logged[-1]
    assert started["vendor"] == "offergrid-leads" and started["file"] == str(LEADS)
    assert started["dry_run"] is False and started["estimated_rows"] > 0
    rows = [event for event in logged if event["event"] == "row"]
    assert len(rows) == 16 + 2  # each failed and conflicted row, with --verbose
    assert {row["status"] for row in rows} == {"failed", "conflicted"}
    assert all(row["level"] == "warning" and row["row"] >= 2 for row in rows)
    assert finished["exit_code"] == 1 and finished["level"] == "warning"
    assert finished["totals"] == {
        "rows": 104,
        "created": 76,
        "conflicted": 2,
        "failed": 16,
        "duplicate": 10,
        "skipped": 0,
    }
    assert finished["unmapped_columns"] == ["Lead Owner"]
    assert finished["top_failures"][:2] == [
        {"problem": "validation: email is not a valid email address", "rows": 10},
        {"problem": "validation: fullName is required", "rows": 5},
    ]
    assert finished["files"]["summary_json"] == str(out / "summary.json")
    assert Path(finished["files"]["rows_csv"]).exists()


def test_an_error_is_one_json_line_and_nothing_on_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "no-such.csv"
    result = importer(
        "run", str(missing), "--vendor", "offergrid-leads", "--dry-run", "--out",
        str(tmp_path / "out"), "--log-format", "json",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == ""
    (error,) = events(result.stdout)
    assert error["event"] == "error" and error["level"] == "error"
    assert "no-such.csv" in error["message"]


def test_text_lines_without_a_terminal(tmp_path: Path) -> None:
    args = ["run", str(LEADS), "--vendor", "offergrid-leads", "--sandbox"]
    result = importer(*args, "--out", str(tmp_path / "out"), "--state", str(tmp_path / "state"))
    assert result.returncode == 1, result.stderr
    for line in result.stderr.splitlines():
        assert line.startswith("importer: "), line
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert re.search(
        r"^importer: started: offergrid-leads from \S+leads\.csv to the embedded sandbox, "
        r"report in \S+out$",
        result.stderr,
        flags=re.MULTILINE,
    ), result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "104 rows: created 76, conflicted 2, failed 16, duplicate 10, skipped 0"
    assert lines[1] == "unused columns: Lead Owner (no field took them; see --mapping)"
    assert lines[2] == (
        "top failure reasons: 10 validation: email is not a valid email address; "
        "5 validation: fullName is required; 1 validation: kind must be one of: lead, customer"
    )


def on_a_terminal(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``importer ARGS...`` with stderr on a pseudo-terminal; return it and what it showed."""
    leader, follower = pty.openpty()
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result = importer(*args, env={**env, "COLUMNS": "200"}, stderr=follower)
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    return result, b"".join(shown).decode("utf-8", "replace")


def test_a_terminal_gets_a_live_line_that_never_hides_errors(
    tmp_path: Path, slow_refusing_sandbox: str
) -> None:
    result, screen = on_a_terminal(
        "run", str(LEADS), "--vendor", "offergrid-leads", "--base-url", slow_refusing_sandbox,
        "--concurrency", "2", "--out", str(tmp_path / "out"), "--state", str(tmp_path / "state"),
        env={"OFFERGRID_API_KEY": "sandbox-offergrid-key"},
    )  # fmt: skip
    assert result.returncode == 2, screen
    live = re.findall(r"\r\x1b\[2K(\[[#.]{24}\][^\r\n]*)", screen)
    assert live, screen
    assert any(re.search(r"read 104 of ~\d+ · done \d+ \(\d+/s", line) for line in live), live
    # The error comes after the live line was cleared, on a line of its own.
    assert re.search(
        r"\r\x1b\[2K(\r\x1b\[2K)*importer: error: run aborted: the vendor refused", screen
    )
    assert screen.rstrip(" ").endswith("\n")
    table = result.stdout.splitlines()
    assert re.fullmatch(r"  created +\d+", table[0]) and table[5].startswith("  ─")
    assert re.fullmatch(r"  rows +104", table[6])
    assert "unused columns: Lead Owner (no field took them; see --mapping)" in table
    reasons = table.index("top failure reasons:")
    assert re.fullmatch(r" +10  validation: email is not a valid email address", table[reasons + 1])


def keyed(contract: Contract) -> Contract:
    """Return the contract whose sandbox accepts the fake secret as its API key."""
    auth = replace(
        contract.auth, sandbox_credentials={"api_key": SECRET}, sandbox_rotated_credentials={}
    )
    return replace(contract, auth=auth)


def run_logged(
    root: Path, sheet: str, base_url: str, form: str
) -> subprocess.CompletedProcess[str]:
    """Run ``importer run`` on ``sheet`` into ``base_url`` with the fake secret, verbosely."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "sheet.csv"
    path.write_text(sheet, encoding="utf-8")
    return importer(
        "run", str(path), "--vendor", "offergrid-leads", "--base-url", base_url,
        "--state", str(root / "state"), "--out", str(root / "out"),
        "--log-format", form, "--verbose",
        env={"OFFERGRID_API_KEY": SECRET},
    )  # fmt: skip


@pytest.mark.parametrize("form", ["json", "text"])
def test_a_refused_key_leaks_nothing_in_any_log(
    tmp_path: Path, sandbox_process: str, form: str
) -> None:
    result = run_logged(tmp_path, SHEET, sandbox_process, form)
    assert result.returncode == 2, result.stdout + result.stderr
    if form == "json":
        assert result.stderr == ""
        errors = [event for event in events(result.stdout) if event["event"] == "error"]
        assert "the vendor refused the credentials" in errors[0]["message"]
    else:
        assert "importer: error: run aborted: the vendor refused the credentials" in result.stderr
    assert_nothing_leaked(tmp_path, result.stdout, result.stderr)


@pytest.mark.parametrize("form", ["json", "text"])
def test_an_accepted_key_leaks_nothing_in_any_log(
    tmp_path: Path, leads_contract: Contract, form: str
) -> None:
    with EmbeddedSandbox(keyed(leads_contract)) as sandbox:
        base_url = sandbox.base_url.replace("//", f"//ops:{URL_PASSWORD}@")
        result = run_logged(tmp_path, SHEET, base_url, form)
    assert result.returncode == 1, result.stdout + result.stderr
    if form == "json":
        finished = events(result.stdout)[-1]
        assert finished["event"] == "finished" and finished["totals"]["created"] >= 2
        assert finished["top_failures"][0]["problem"].startswith("validation: ")
    else:
        assert "importer: row 3 failed (validation): email is not a valid" in result.stderr
    assert_nothing_leaked(tmp_path, result.stdout, result.stderr)


def test_a_vendor_echoing_the_key_leaks_nothing_in_verbose_json(tmp_path: Path) -> None:
    with EchoVendor(400) as vendor:
        result = run_logged(tmp_path, NO_EMAILS, vendor.base_url, "json")
    assert result.returncode == 1, result.stdout
    rows = [event for event in events(result.stdout) if event["event"] == "row"]
    assert len(rows) == 2
    assert all(REDACTED in row["detail"] and "is not allowed" in row["detail"] for row in rows)
    assert_nothing_leaked(tmp_path, result.stdout, result.stderr)


def test_the_console_redacts_every_field_before_writing(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(LogFormat.JSON, secrets=(SECRET,))
    url = f"https://ops:{URL_PASSWORD}@api.example.com/v1?token=abc"
    console.emit(
        "note",
        f'key {SECRET} at {url}"',
        detail={"nested": [SECRET, {"deep": f"b64 {json.dumps(SECRET)}"}]},
        count=3,
    )
    text = Console(LogFormat.TEXT, secrets=(SECRET,))
    text.error(f"refused {SECRET} at {url}")
    captured = capsys.readouterr()
    (event,) = events(captured.out)
    assert event["message"] == f'key {REDACTED} at https://api.example.com/v1"'
    assert event["detail"] == {"nested": [REDACTED, {"deep": f'b64 "{REDACTED}"'}]}
    assert event["count"] == 3
    assert captured.err == f"importer: error: refused {REDACTED} at https://api.example.com/v1\n"
    for form in FORBIDDEN:
        assert form not in (captured.out + captured.err).encode()


def test_verbose_logs_each_failed_row_and_bound_fields(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(LogFormat.JSON, verbose=True).bound(job="nightly")
    observer = ConsoleObserver(console=console, started={"vendor": "offergrid-leads"})
    observer.started(3)
    observer.rows_read(3)
    observer.rows_done(
        [
            RowOutcome(2, State.CREATED, Reason.CREATED),
            RowOutcome(3, State.FAILED, Reason.VALIDATION, "fullName is required"),
            RowOutcome(4, State.CONFLICTED, Reason.ALREADY_EXISTS, "409 Conflict", 409),
        ]
    )
    observer.finish()
    logged = events(capsys.readouterr().out)
    assert [event["event"] for event in logged] == ["started", "row", "row"]
    assert all(event["job"] == "nightly" for event in logged)
    assert logged[0]["estimated_rows"] == 3 and logged[0]["vendor"] == "offergrid-leads"
    assert (logged[1]["row"], logged[1]["reason"], logged[1]["detail"]) == (
        3,
        "validation",
        "fullName is required",
    )
    assert (logged[2]["status"], logged[2]["http_status"]) == ("conflicted", 409)


def test_progress_reads_rows_done_rate_and_time_left() -> None:
    progress = _Progress(
        elapsed=65, read=5_000, done=1_200, total=10_000, rate=40.0, counts={"created": 1_200}
    )
    assert progress.seconds_left == 220
    assert progress.words() == (
        "1m05s read 5,000 of ~10,000 · done 1,200 (40/s, ~3m40s left) · created 1,200"
    )
    assert progress.words(bar=True).startswith("[###.....................]  12% 1m05s read")
    assert progress.fields()["seconds_left"] == 220
    unknown = replace(progress, total=None)
    assert unknown.seconds_left is None and "left" not in unknown.words()
    assert [_duration(s) for s in (0, 42, 185, 3_725)] == ["0s", "42s", "3m05s", "1h02m"]
