"""Outputs safe to open: no cell of any report file can run, and none is readable by others.

Every known CSV-injection payload goes into a real sheet, as cells and as header names, and
through a real ``importer run``: a dry run, a run into the embedded sandbox, and a run into a
hostile vendor on loopback that answers with the payloads as ids and messages. Then every file
written is opened the way a spreadsheet app would see it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import threading
import unicodedata
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from importer.cli import main
from importer.lifecycle import Reason, RowOutcome, State
from importer.report import writer as report_writer
from importer.report import xlsx
from importer.report.cells import neutralize
from importer.report.writer import REPORT_COLUMNS, ReportWriter

LIVE_PAYLOADS = (
    # the classics (OWASP)
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x","y")',
    "\t=1+1",
    "\r=1+1",
    "\tplain after a tab",
    # full-width and small-form twins
    "\uff1d1+1",
    "\uff0b1+1",
    "\uff0d1+1",
    "\uff20SUM(1+1)",
    "\ufe661+1",
    "\ufe621+1",
    "\ufe631+1",
    "\ufe6bSUM(1+1)",
    # blanks, line breaks and invisible characters before a trigger
    " =1+1",
    "   +1+1",
    "\n=1+1",
    "\r\n=1+1",
    "\u00a0=1+1",
    "\u3000\uff1d1+1",
    "\u200b=1+1",
    "\u200c=1+1",
    "\u200d=1+1",
    "\ufeff=1+1",
    "\u2060=1+1",
    " \u200b\n@SUM(1)",
    # DDE, bare and as a remote reference
    'DDE("cmd";"/C calc";"!A0")A0',
    'dde("cmd";"/C calc";"!A0")',
    "cmd|' /C calc'!A0",
    "msexcel|'\\..\\..\\Windows\\System32\\cmd.exe /c calc.exe'!''",
    # quotes that open the cell before the formula
    '"=1"',
    '" =1+1',
    # ordinary data that looks like a formula: quoted too, as OWASP recommends
    "+1 555 0100",
    "-5",
)
"""Values a spreadsheet app could run: each must come out with a leading single quote."""

INERT_PAYLOADS = (
    "'=1",  # already quoted: a spreadsheet app shows it as text
    'x",=1+1',  # tries to close its cell and start a live one
    "x;=1+1",  # the same where the list separator is a semicolon
    "x\t=1+1",
    "x\r\n=1+1",
    '"",=1+1',
)
"""Values that are text as long as they stay one whole cell: each must come out as it went in."""

ORDINARY = ("", "plain", "5", "a=b", " x", "José", "red|green|blue", '"Bob" Smith', "a-b")
"""Values a person would be annoyed to see quoted."""

_TRIGGERS = tuple("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
_DDE_REFERENCE = re.compile(r"[\w.]+\|[^!]*!")


def can_run(cell: str) -> bool:
    """Say whether a spreadsheet app could take ``cell`` for a formula (the test's own rule)."""
    if cell.startswith(("\t", "\r")):
        return True
    rest = cell
    while rest and (rest[0].isspace() or rest[0] == '"' or _invisible(rest[0])):
        rest = rest[1:]
    return (
        rest.startswith(_TRIGGERS)
        or re.match(r"dde\s*\(", rest, re.IGNORECASE) is not None
        or _DDE_REFERENCE.match(rest) is not None
    )


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf"}


@pytest.mark.parametrize("value", LIVE_PAYLOADS)
def test_every_live_payload_gets_a_quote(value: str) -> None:
    assert can_run(value)
    assert neutralize(value) == "'" + value
    assert not can_run(neutralize(value))
    assert neutralize(neutralize(value)) == neutralize(value)


@pytest.mark.parametrize("value", INERT_PAYLOADS + ORDINARY)
def test_inert_and_ordinary_values_are_left_alone(value: str) -> None:
    assert neutralize(value) == value


# --- real runs --------------------------------------------------------------------------------

PAYLOADS = LIVE_PAYLOADS + INERT_PAYLOADS
ROLES = ("created", "rejected", "conflict", "dropped")


def hostile_sheet(path: Path) -> Path:
    """Write a sheet whose headers and cells are the payloads, one row per payload and role.

    The full name carries the payload to the vendor, and its tail tells the hostile vendor how
    to answer; a dropped row has no email, so the answer it never got cannot be asked again.
    """
    header = ["Full Name", "Email", *(f"{payload} #{i}" for i, payload in enumerate(PAYLOADS))]
    rows = [
        [
            f"{payload} ~{role}~{i}",
            "" if role == "dropped" else f"r{i}.{role}@example.com",
            *PAYLOADS[i:],
            *PAYLOADS[:i],
        ]
        for i, payload in enumerate(PAYLOADS)
        for role in ROLES
    ]
    rows.append(["=1+1", "=1+1", *PAYLOADS])  # a bad email: its message quotes the value
    rows.append(["Dup", "r0.created@example.com", *PAYLOADS])  # a duplicate in the file
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file, quoting=csv.QUOTE_ALL).writerows([header, *rows])
    return path


class HostileVendor(BaseHTTPRequestHandler):
    """An OfferGrid-like vendor whose ids and messages are the payloads."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        role, index = body["fullName"].rsplit("~", 2)[1:]
        payload = PAYLOADS[int(index)]
        if role == "dropped":
            self.close_connection = True
            return
        status, answer = {
            "created": (201, {"id": payload}),
            "rejected": (400, {"statusCode": 400, "message": [payload], "error": payload}),
            "conflict": (409, {"statusCode": 409, "message": payload, "error": "Conflict"}),
        }[role]
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def hostile_vendor() -> Iterator[str]:
    """Serve the hostile vendor on loopback and return its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileVendor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def no_umask() -> Iterator[None]:
    """Run with a umask that takes nothing away, so only the tool's own modes protect files."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def work_modes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """Record the modes of the files being written aside, at the moment report.xlsx is built."""
    seen: list[dict[str, int]] = []
    real = report_writer.write_xlsx

    def spy(target: Any, sheets: Any, *args: Any) -> None:
        work = sheets.folder
        modes = {path.name: mode_of(path) for path in [work, *work.iterdir()]}
        modes[report_writer.INCOMPLETE] = mode_of(work.parent / report_writer.INCOMPLETE)
        seen.append(modes)
        real(target, sheets, *args)

    monkeypatch.setattr("importer.report.writer.write_xlsx", spy)
    return seen


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(sheet: Path, out: Path, *options: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(
        main,
        ["run", str(sheet), "--vendor", "offergrid-leads", "--out", str(out), *options],
        env=env,
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in {0, 1}, result.output
    return result


@pytest.mark.usefixtures("no_umask")
@pytest.mark.parametrize("mode", ["dry-run", "sandbox", "hostile"])
def test_no_file_written_holds_a_live_cell_or_is_readable_by_others(
    mode: str,
    tmp_path: Path,
    hostile_vendor: str,
    work_modes: list[dict[str, int]],
) -> None:
    sheet = hostile_sheet(tmp_path / "hostile.csv")
    out = tmp_path / "made" / "by" / "importer"
    options = {
        "dry-run": ["--dry-run"],
        "sandbox": ["--sandbox", "--extras-to-open-object"],
        "hostile": ["--base-url", hostile_vendor, "--state", str(tmp_path / "state")],
    }[mode]
    key = "k" if mode == "hostile" else None  # the sandbox brings its own
    result = run(sheet, out, *options, env={"OFFERGRID_API_KEY": key})

    written = {path.name for path in out.iterdir()}
    assert {"rows.csv", "report.xlsx", "summary.json", ".importer.lock"} <= written
    assert "INCOMPLETE.txt" not in written
    if mode == "hostile":
        assert "unknown.csv" in written
        assert "unknown:" in result.output
    failed = json.loads((out / "summary.json").read_text("utf-8"))["totals"]["failed"]
    assert ("to_fix.csv" in written) == ("to_fix.xlsx" in written) == bool(failed)
    names = ("rows.csv", "unknown.csv", "to_fix.csv")
    cells = [cell for name in names for cell in csv_cells(out / name)]
    cells += xlsx_cells(out / "report.xlsx")
    to_fix_cells = xlsx_cells(out / "to_fix.xlsx", summary=False)
    assert_no_live_cell([*cells, *to_fix_cells])
    assert_every_payload_is_shown_whole(cells)
    if mode == "hostile":  # the vendor's ids and messages were payloads too
        assert_vendor_words_are_shown_quoted(out / "rows.csv")

    assert_owner_only(out, tmp_path / "made")
    assert work_modes
    for modes in work_modes:
        assert set(modes.values()) <= {0o600, 0o700}, modes


def csv_cells(path: Path) -> list[str]:
    """Return every cell of a report CSV, checking that every field is quoted."""
    if not path.exists():
        return []
    raw = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    again = io.StringIO(newline="")
    csv.writer(again, quoting=csv.QUOTE_ALL).writerows(rows)
    assert raw == again.getvalue(), f"{path.name}: a field is not quoted"
    return [cell for row in rows for cell in row]


def xlsx_cells(path: Path, *, summary: bool = True) -> list[str]:
    """Return every text cell of every sheet of a workbook, checking none is a formula."""
    if not summary and not path.exists():
        return []
    book = openpyxl.load_workbook(path, data_only=False)
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith("="), f"{sheet.title}!{cell.coordinate}"
                    texts.append(cell.value)
    assert any(sheet.title == "Summary" for sheet in book.worksheets) == summary
    return texts


def assert_no_live_cell(cells: list[str]) -> None:
    live = [cell for cell in cells if can_run(cell)]
    assert not live, live[:10]
    for cell in cells:
        if can_run(cell.removeprefix("'")):
            assert cell.startswith("'"), cell


def assert_every_payload_is_shown_whole(cells: list[str]) -> None:
    """Every payload reached the report whole, quoted if it could run (the test is not empty).

    XML and the reader may turn a carriage return into a line feed; that does not matter here.
    """
    seen = {cell.replace("\r\n", "\n").replace("\r", "\n") for cell in cells}
    for payload in PAYLOADS:
        shown = "'" + payload if can_run(payload) else payload
        assert shown.replace("\r\n", "\n").replace("\r", "\n") in seen, repr(payload)


def assert_vendor_words_are_shown_quoted(rows_csv: Path) -> None:
    with rows_csv.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    ids = {row["vendor_id"] for row in rows if row["status"] == "created"}
    messages = " ".join(row["message"] for row in rows if row["status"] != "created")
    for payload in LIVE_PAYLOADS:
        assert "'" + payload in ids
        assert payload.strip() in messages


def assert_owner_only(out: Path, first_made: Path) -> None:
    """Every file the run left is 0600; every folder it made is 0700."""
    for path in out.iterdir():
        assert mode_of(path) == 0o600, path.name
    folder = out
    while folder != first_made.parent:
        assert mode_of(folder) == 0o700, folder
        folder = folder.parent


# --- the writer alone ----------------------------------------------------------------------


def outcome(row: int, reason: Reason = Reason.DRY_RUN) -> RowOutcome:
    state = State.UNKNOWN if reason is Reason.OUTCOME_UNKNOWN else State.SKIPPED
    return RowOutcome(source_row=row, state=state, reason=reason, message="=2+2")


@pytest.mark.usefixtures("no_umask")
def test_files_are_owner_only_in_a_folder_the_user_made(tmp_path: Path) -> None:
    out = tmp_path / "theirs"
    out.mkdir(mode=0o755)
    (out / report_writer.LOCK).touch(mode=0o644)  # left by an older importer
    (out / "report.xlsx").touch(mode=0o644)
    writer = ReportWriter(out, ["name"], run_id="run-1")
    assert mode_of(out / report_writer.INCOMPLETE) == 0o600
    writer.write_row(outcome(2, Reason.OUTCOME_UNKNOWN), ["=1+1"])
    files = writer.finish({"run_id": "run-1"})
    assert mode_of(out) == 0o755  # the user's folder keeps the mode they gave it
    assert files.unknown_csv is not None
    assert {path.name: mode_of(path) for path in out.iterdir()} == {
        report_writer.LOCK: 0o600,
        "rows.csv": 0o600,
        "unknown.csv": 0o600,
        "report.xlsx": 0o600,
        "report.html": 0o600,
        "summary.json": 0o600,
    }


@pytest.mark.parametrize(("extra", "written"), [(0, True), (1, False)])
def test_report_xlsx_is_written_up_to_excel_width_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: int, written: bool
) -> None:
    monkeypatch.setattr(xlsx, "EXCEL_MAX_COLUMNS", len(REPORT_COLUMNS) + 3)
    columns = [f"c{i}" for i in range(3 + extra)]
    writer = ReportWriter(tmp_path, columns, run_id="run-1")
    writer.write_row(outcome(2), ["x"] * len(columns))
    files = writer.finish({"run_id": "run-1"})
    summary = json.loads(files.summary_json.read_text(encoding="utf-8"))
    assert (files.report_xlsx is not None) is written
    assert (tmp_path / "report.xlsx").exists() is written
    assert summary["report_xlsx"] == ("report.xlsx" if written else None)
    assert bool(summary["notes"]) is not written
    assert bool(files.notes) is not written


def test_a_cell_longer_than_the_csv_module_reads_by_default_still_gets_a_workbook(
    tmp_path: Path,
) -> None:
    long = "x" * 200_000
    limit = csv.field_size_limit()
    writer = ReportWriter(tmp_path, ["note"], run_id="run-1")
    writer.write_row(outcome(2), [long])
    files = writer.finish({"run_id": "run-1"})
    assert files.report_xlsx is not None
    assert csv.field_size_limit() == limit
    with files.rows_csv.open(encoding="utf-8-sig", newline="") as file:
        csv.field_size_limit(len(long) + 1)
        try:
            [row] = csv.DictReader(file)
            assert row["note"] == long
        finally:
            csv.field_size_limit(limit)
    sheet = openpyxl.load_workbook(files.report_xlsx)["skipped"]
    assert sheet.cell(row=2, column=len(REPORT_COLUMNS) + 1).value == long[: xlsx.EXCEL_MAX_CHARS]


@pytest.mark.parametrize("width", [16_378, 18_300])
def test_a_sheet_wider_than_excel_gets_rows_csv_and_a_plain_note(
    tmp_path: Path, width: int
) -> None:
    out = tmp_path / "out"
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("Full Name,Email\nAnn,ann@example.com\n", encoding="utf-8")
    run(narrow, out, "--dry-run")
    assert (out / "report.xlsx").exists()

    sheet = tmp_path / "wide.csv"
    header = ["Full Name", "Email", *(f"extra {i}" for i in range(width - 2))]
    with sheet.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, ["Bo", "bo@example.com", *["=1+1"] * (width - 2)]])
    result = run(sheet, out, "--dry-run")

    assert result.exit_code == 0, result.output
    assert not (out / "report.xlsx").exists()  # the narrow run's would be taken for this one's
    assert "report:" not in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["report_xlsx"] is None
    assert summary["totals"]["rows"] == 1
    [note] = summary["notes"]
    assert f"the sheet has {width:,} columns" in note
    assert "Excel opens" in note and "rows.csv has every row" in note
    assert f"note: {note}" in result.output
    with (out / "rows.csv").open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert [len(row) for row in rows] == [len(REPORT_COLUMNS) + width] * 2
    assert rows[1][-1] == "'=1+1"
    assert {path.name: mode_of(path) for path in out.iterdir()} == {
        report_writer.LOCK: 0o600,
        "rows.csv": 0o600,
        "report.html": 0o600,
        "summary.json": 0o600,
    }
