"""report.html: a real import's page opened in a real headless Chromium, and the page's rules.

The browser tests run ``importer run --sandbox`` on a sheet with failing rows and a row of
XSS payloads, open report.html in Debian's Chromium (``--dump-dom``, ``--screenshot``) and read
what the browser built: the totals, the payloads as text and never as elements, and the filter
driven by ``#filter=`` in the page's address. Without Chromium they skip, except in CI
(``CI`` set), where a missing browser fails: ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.cli import main
from importer.lifecycle import Reason, RowOutcome, State
from importer.report import html as report_html
from importer.report.cells import neutralize
from importer.report.writer import ReportWriter

CHROMIUM = "/usr/bin/chromium"

PAYLOADS = {
    "Full Name": "<script>alert(1)</script>",
    "Email": '"><img src=x onerror=alert(1)>',
    "City": "javascript:alert(1)",
    "Notes": '<a href="javascript:alert(1)">click</a><svg onload=alert(1)>',
    "<img src=x onerror=alert(2)>": '<iframe src="https://example.com/"></iframe>',
}
"""One row's cells, each an XSS payload; the last column's very header is one."""

HEADER = list(PAYLOADS)
ROWS = [
    ["Ann Lee", "ann@example.com", "Paris", "+1 555 0100", ""],
    ["Bo Chen", "bo@example.com", "Oslo", "", ""],
    list(PAYLOADS.values()),  # row 4: its email is invalid, so it fails with every payload
    ["Cy Diaz", "cy@bad-domain", "Rome", "", ""],  # row 5: fails validation
    ["Ann Lee", "ANN@example.com", "Paris", "", ""],  # row 6: duplicate of row 2
    ["Dee Ito", "dee@example.com", "Lima", "", ""],
]


# --- a DOM as Chromium serialized it ---------------------------------------------------------


@dataclass
class Node:
    """One element of the dumped DOM."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """Return the element's text content, as the DOM's textContent would."""
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def walk(self) -> Iterator[Node]:
        """Yield this element and every element below it."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def find(self, tag: str, **attrs: str) -> list[Node]:
        """Return the elements of ``tag`` below (and including) this one with those attributes."""
        return [
            node
            for node in self.walk()
            if node.tag == tag and all(node.attrs.get(k) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Node:
        """Return the one element with this id."""
        [node] = [node for node in self.walk() if node.attrs.get("id") == element_id]
        return node


_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
"""Elements without an end tag (those this page could hold)."""


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self._open[-1].children.append(node)
        if tag not in _VOID:
            self._open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def parse(html: str) -> Node:
    """Return the element tree of an HTML text."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """Return Debian's Chromium; skip without it, except in CI, where it must be there."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs it (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test")


def browse(chromium: str, page: Path, profile: Path, *how: str, fragment: str = "") -> str:
    """Open ``page`` in headless Chromium with no network, and return what it printed."""
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *how,
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Import the payload sheet into the embedded sandbox; return report.html."""
    folder = tmp_path_factory.mktemp("html-report")
    sheet = folder / "payloads.csv"
    with sheet.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([HEADER, *ROWS])
    out, state = folder / "out", folder / "state"
    args = ["run", str(sheet), "--vendor", "offergrid-leads", "--sandbox"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--state", str(state)])
    assert result.exit_code == 1, result.output  # some rows failed, as they should
    assert f"html:   {out / 'report.html'}" in result.output
    return out / "report.html"


@pytest.fixture
def dom(chromium: str, report: Path, tmp_path: Path) -> Node:
    """Return the DOM Chromium built from the report, with no filter."""
    return parse(browse(chromium, report, tmp_path / "profile", "--dump-dom"))


def visible_rows(tree: Node) -> list[Node]:
    """Return the rows of the failed-rows table that the filter left visible."""
    [body] = tree.by_id("rows").find("tbody")
    return [row for row in body.find("tr") if "hidden" not in row.attrs]


def cells(row: Node) -> list[str]:
    return [cell.text() for cell in row.find("td")]


def test_the_page_shows_the_totals_reasons_and_mapping(dom: Node) -> None:
    cards = {
        card.find("span")[0].text(): card.find("b")[0].text()
        for card in dom.find("div")
        if "card" in card.attrs.get("class", "").split()
    }
    assert cards == {
        "rows": "6",
        "created": "3",
        "conflicted": "0",
        "failed": "2",
        "duplicate": "1",
        "skipped": "0",
    }
    reasons = {cells(row)[0]: cells(row)[1:3] for row in dom.by_id("reasons").find("tr")[1:]}
    assert reasons == {
        "validation": ["2", report_html.HINTS[Reason.VALIDATION]],
        "duplicate_in_file": ["1", report_html.HINTS[Reason.DUPLICATE_IN_FILE]],
    }
    problems = {cells(row)[0]: cells(row)[1:] for row in dom.by_id("problems").find("tr")[1:]}
    assert problems == {
        "validation: email is not a valid email address": [
            "2",
            report_html.HINTS[Reason.VALIDATION],
        ]
    }
    mapping = {cells(row)[0]: cells(row)[1] for row in dom.by_id("mapping").find("tr")[1:]}
    assert mapping["email"] == "Email"
    assert mapping["fullName"] == "Full Name"
    unused = [item.text() for item in dom.by_id("mapping").find("li")]
    assert unused == ["<img src=x onerror=alert(2)>"]
    assert len(dom.find("svg")) == 1
    assert [bar.attrs["fill"] for bar in dom.find("rect")] == [
        "#2e7d32",
        "#6a5acd",
        "#c62828",
        "#ef6c00",
        "#78909c",
    ]


def test_payloads_are_shown_as_text_and_never_become_elements(dom: Node) -> None:
    rows = {cells(row)[0]: cells(row) for row in visible_rows(dom)}
    assert sorted(rows) == ["4", "5"]
    payload_row = rows["4"]
    assert payload_row[:3] == ["4", "failed", "validation"]
    assert payload_row[4:] == list(PAYLOADS.values())
    header = [cell.text() for cell in dom.by_id("rows").find("th")]
    assert header[-1] == "<img src=x onerror=alert(2)>"

    tags = {node.tag for node in dom.walk()}
    assert not tags & {"img", "iframe", "a", "object", "embed", "base", "link", "form"}
    [script] = dom.find("script")
    assert script.text() == report_html._SCRIPT  # no data inside the script, ever
    assert len(dom.find("svg")) == 1  # the chart's only
    for node in dom.walk():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)
            assert name not in ("src", "href", "action", "formaction"), (node.tag, name)
            assert "javascript:" not in value.lower(), (node.tag, name)


def test_the_page_forbids_every_fetch(dom: Node) -> None:
    [policy] = [
        meta.attrs["content"]
        for meta in dom.find("meta")
        if meta.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy.startswith("default-src 'none';")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "http" not in policy


@pytest.mark.parametrize(
    ("words", "shown"),
    [
        ("", ["4", "5"]),
        ("cy@bad-domain", ["5"]),
        ("VALIDATION", ["4", "5"]),
        ("validation rome", ["5"]),
        ("<script>", ["4"]),
        ("<img src=x onerror=alert(3)>", []),
        ("nothing like this", []),
    ],
)
def test_the_filter_in_the_address_filters_the_table(
    chromium: str, report: Path, tmp_path: Path, words: str, shown: list[str]
) -> None:
    fragment = f"#filter={quote(words, safe='')}" if words else ""
    tree = parse(browse(chromium, report, tmp_path / "profile", "--dump-dom", fragment=fragment))
    assert [cells(row)[0] for row in visible_rows(tree)] == shown
    assert tree.by_id("shown").text() == str(len(shown))  # the page's own script ran
    assert not tree.find("img") and not tree.find("iframe")


def test_a_screenshot_of_the_report(chromium: str, report: Path, tmp_path: Path) -> None:
    picture = tmp_path / "report.png"
    how = ("--window-size=1280,1800", "--hide-scrollbars", f"--screenshot={picture}")
    browse(chromium, report, tmp_path / "profile", *how)
    data = picture.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(data[16:20], "big") == 1280  # the IHDR width
    assert len(data) > 20_000  # a page with text, cards and a chart, not a blank one
    keep = os.environ.get("IMPORTER_HTML_SCREENSHOT")
    if keep:  # for a person to look at: IMPORTER_HTML_SCREENSHOT=/tmp/report-html.png
        shutil.copyfile(picture, keep)


# --- the page's rules, without a browser --------------------------------------------------------


def failed(row: int, message: str = "email is not valid") -> RowOutcome:
    return RowOutcome(row, State.FAILED, Reason.VALIDATION, message)


def write_report(out: Path, rows: list[tuple[RowOutcome, list[str]]], **meta: object) -> Node:
    writer = ReportWriter(out, ["Name", "Phone"], run_id="run-1")
    for outcome, values in rows:
        writer.write_row(outcome, values)
    files = writer.finish({"run_id": "run-1", "vendor": "offergrid-leads", **meta})
    assert files.report_html == out / "report.html"
    return parse(files.report_html.read_text(encoding="utf-8"))


def test_every_reason_has_a_fix_hint() -> None:
    assert set(report_html.HINTS) == set(Reason)
    assert all(hint.strip() for hint in report_html.HINTS.values())


def test_the_policy_allows_exactly_the_page_s_own_script_and_style(tmp_path: Path) -> None:
    page = write_report(tmp_path, [(failed(2), ["Ann", ""])])
    [policy] = [
        meta.attrs["content"]
        for meta in page.find("meta")
        if meta.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        [element] = page.find(tag)
        digest = hashlib.sha256(element.text().encode("utf-8")).digest()
        expected = f"{directive} 'sha256-{base64.b64encode(digest).decode()}'"
        assert expected in policy


def test_the_table_is_capped_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_html, "TABLE_ROW_LIMIT", 3)
    created = RowOutcome(2, State.CREATED, Reason.CREATED)
    rows = [(created, ["Ann", ""]), *((failed(row), [f"n{row}", ""]) for row in range(3, 8))]
    page = write_report(tmp_path, rows)
    assert [cells(row)[0] for row in visible_rows(page)] == ["3", "4", "5"]
    assert "first 3 of 5 rows" in page.by_id("capped").text()


def test_cells_show_as_typed_and_cut_to_the_cell_limit(tmp_path: Path) -> None:
    long = "x" * (report_html.CELL_CHARS + 50)
    page = write_report(tmp_path, [(failed(2, "=1+1 is refused"), [long, "+1 555 0100"])])
    [row] = visible_rows(page)
    # rows.csv keeps the safety quote for spreadsheets; a web page shows the value as typed
    assert cells(row)[3:] == [
        "=1+1 is refused",
        "x" * report_html.CELL_CHARS + "\u2026",
        "+1 555 0100",
    ]


def test_a_report_rebuilt_from_the_ledger_says_what_it_does_not_know(tmp_path: Path) -> None:
    page = write_report(tmp_path, [])
    assert "The mapping was not recorded" in page.by_id("mapping").text()
    assert "No row failed or conflicted" in page.by_id("failed").text()
    assert "Every row was created" in page.by_id("reasons").text()


def test_an_aborted_run_says_why_first(tmp_path: Path) -> None:
    reason = "the vendor refused the credentials (401) <b>bold</b>"
    page = write_report(tmp_path, [(failed(2), ["Ann", ""])], aborted=reason)
    banner = page.by_id("aborted")
    assert banner.text() == f"The run was aborted: {reason}"
    assert [bold.text() for bold in banner.find("b")] == ["The run was aborted:"]


def shown_cell(value: str) -> str:
    """What the table shows of one cell: the reference, one value at a time."""
    typed = value[1:]
    if value.startswith("'") and neutralize(typed) == value:  # the report's safety quote
        value = typed
    if len(value) > report_html.CELL_CHARS:
        value = value[: report_html.CELL_CHARS] + "\u2026"
    return report_html._text(value)


cell_values = st.one_of(
    st.text(max_size=8),
    st.lists(
        st.sampled_from([*"'=+-@ab|!&<>\"\t\x00\x7f", "dde(", "é", "😀", "cmd|x!"]), max_size=8
    ).map("".join),
    st.text(alphabet="ab'", min_size=295, max_size=305),
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(cell_values, max_size=20))
def test_the_table_shows_each_cell_as_the_one_cell_reference_does(values: list[str]) -> None:
    shown = report_html._shown_cells(pd.Series(values, dtype="str"))
    assert shown == [shown_cell(value) for value in values]
