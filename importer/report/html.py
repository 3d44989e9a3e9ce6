"""Build report.html: one self-contained page a person opens to see how a run went.

The page holds the run's facts and totals, a chart of the statuses (inline SVG), the reasons
rows were not created with a fix hint each, the mapping and the columns left unused, and a
filterable table of the rows that failed or conflicted, capped at ``TABLE_ROW_LIMIT`` rows.

It opens with no network: the CSS and the one small script are inline, and the page's
Content-Security-Policy forbids every fetch and allows no script but that one (by its hash).
Every value from the sheet, the vendor or the summary is HTML-escaped, and none is ever put
inside the script: the filter reads the table's text from the DOM. ``#filter=words`` in the
page's address filters the table, so a filtered view can be shared.

The table's rows are gathered while rows.csv is written (``TableRows``): only the first rows it
shows are kept, so a run of a million rows gives a page of a few megabytes at most, and
rows.csv is never read back.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer.lifecycle import Reason, Status
from importer.report.cells import neutralize_column
from importer.report.totals import Totals

TABLE_ROW_LIMIT = 5_000
"""Rows the table shows at most; the page says so when a run has more."""

TABLE_SHEET_COLUMNS = 50
"""Sheet columns the table shows at most, after the report's own."""

CELL_CHARS = 300
"""Characters shown per cell; rows.csv holds every cell whole."""

TOP_PROBLEMS = 10
"""The most frequent problems of failed rows the page lists."""

TABLE_STATUSES = (Status.FAILED.value, Status.CONFLICTED.value)
"""The statuses whose rows the table lists (a row in doubt is ``failed``/``outcome_unknown``)."""

HINTS: Mapping[Reason, str] = {
    Reason.CREATED: "Nothing to do: the vendor created it.",
    Reason.ALREADY_EXISTS: "The vendor already holds this record: nothing to do, unless it "
    "should differ; then change it at the vendor.",
    Reason.CREATED_BY_EARLIER_ATTEMPT: "Nothing to do: an earlier attempt of this run created it.",
    Reason.CREATED_BY_EARLIER_RUN: "Nothing to do: an earlier run that stopped while sending "
    "created it.",
    Reason.FOUND_BY_PERSON: "Nothing to do: a person marked it as found at the vendor.",
    Reason.VALIDATION: "Fix the value named in the message in your sheet (or in to_fix.csv) and "
    "import that file again.",
    Reason.MALFORMED_ROW: "The row has more cells than the header (often an unquoted comma): "
    "remove the stray cells and import again.",
    Reason.VENDOR_REJECTED: "The vendor refused it (4xx): fix the row as its message says and "
    "import again; if the fix was made at the vendor, re-run with --resend-rejected.",
    Reason.RETRIES_EXHAUSTED: "The vendor kept failing (5xx, 429 or network errors): run the "
    "same import again later; these rows are sent again.",
    Reason.OUTCOME_UNKNOWN: "The vendor may hold it: check at the vendor, mark each row in "
    "unknown.csv (there or missing) and run importer settle.",
    Reason.DUPLICATE_IN_FILE: "Same key as an earlier row of the sheet (named in the message), "
    "which was sent: merge the two rows, or leave it.",
    Reason.ALREADY_SYNCED: "Nothing to do: an earlier run created it.",
    Reason.CHANGED_SINCE_SYNC: "Created by an earlier run and changed since; the vendor has no "
    "update endpoint: change it at the vendor.",
    Reason.ABORTED: "Not sent: fix what stopped the run (credentials, network, interruption) "
    "and run the same import again.",
    Reason.DEFERRED: "Not sent within --time-budget: run the same import again; it sends these "
    "first.",
    Reason.DRY_RUN: "Valid: run again without --dry-run to send it.",
    Reason.MISSING_AT_VENDOR: "A person marked it missing at the vendor: the next run sends it.",
    Reason.CUT_SHORT: "The run was cut short: run the same import again; it sends or resolves "
    "these rows.",
}
"""One fix hint per reason code (every code of the closed list has one)."""

_OTHER_HINT = "See the message column of rows.csv."

_STATUS_COLOURS = {
    Status.CREATED.value: "#2e7d32",
    Status.CONFLICTED.value: "#6a5acd",
    Status.FAILED.value: "#c62828",
    Status.DUPLICATE.value: "#ef6c00",
    Status.SKIPPED.value: "#78909c",
}

_FACTS = (
    ("run_id", "Run"),
    ("vendor", "Vendor"),
    ("account", "Account"),
    ("endpoint", "Endpoint"),
    ("source_file", "Source file"),
    ("sheet", "Worksheet"),
    ("started_at", "Started"),
    ("finished_at", "Finished"),
    ("ending", "Ending"),
    ("state_dir", "Ledger"),
)
"""The summary keys the page shows as facts, in order, with their labels."""

_REPORT_NAMES = ("source_row", "status", "reason", "message")
"""The report columns the table shows (rows.csv's first four), before the sheet's own."""

_OWN_COLUMNS = 7
"""How many report columns rows.csv puts before the sheet's own."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_STYLE = """
:root{color-scheme:light;--ink:#1f2933;--muted:#5f6b7a;--line:#d9dee5;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 10px}
section>h2:first-child{margin-top:0}
.sub{color:var(--muted);margin:0 0 16px;overflow-wrap:anywhere}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin:16px 0}
.banner{border-radius:8px;padding:12px 16px;margin:12px 0;border:1px solid}
.banner.bad{background:#fdecea;border-color:#f5c2c0}
.banner.info{background:#e8f1fb;border-color:#bcd4f0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{flex:1 1 120px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;
background:#fff}
.card b{display:block;font-size:24px}.card span{color:var(--muted)}
.card.failed b{color:#c62828}.card.created b{color:#2e7d32}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef2f6;position:sticky;top:0;font-weight:600}
td{white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:plaintext}
td.num,td.code{white-space:nowrap}td.num{text-align:right}
#rows td{min-width:8em}#rows td.num,#rows td.code{min-width:0}#rows td.message{min-width:20em}
.scroll{overflow:auto;max-height:75vh;border:1px solid var(--line);border-radius:6px}
.tag{display:inline-block;padding:0 6px;border-radius:4px;color:#fff;font-size:12px}
.tag.failed{background:#c62828}.tag.conflicted{background:#6a5acd}
.muted{color:var(--muted)}
.filter{display:flex;gap:10px;align-items:center;margin:0 0 10px;flex-wrap:wrap}
.filter input{flex:1 1 280px;padding:6px 10px;border:1px solid var(--line);border-radius:6px;
font:inherit}
button{font:inherit;padding:2px 10px;border:1px solid var(--line);border-radius:6px;
background:#fff;cursor:pointer;white-space:nowrap}
ul.plain{margin:0;padding-left:20px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
"""

_SCRIPT = """
(function () {
  "use strict";
  var input = document.getElementById("filter");
  var table = document.getElementById("rows");
  var shown = document.getElementById("shown");
  if (!input || !table || !shown) { return; }
  var rows = table.tBodies[0].rows;
  var texts = [];
  for (var i = 0; i < rows.length; i++) { texts.push(rows[i].textContent.toLowerCase()); }
  function apply(query) {
    var terms = query.toLowerCase().split(/\\s+/).filter(Boolean);
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var hit = terms.every(function (term) { return texts[i].indexOf(term) !== -1; });
      rows[i].hidden = !hit;
      if (hit) { count++; }
    }
    shown.textContent = String(count);
  }
  function fromAddress() {
    var match = /^#filter=(.*)$/.exec(window.location.hash);
    if (!match) { return ""; }
    try { return decodeURIComponent(match[1]); } catch (error) { return ""; }
  }
  function remember(query) {
    var address = query ? "#filter=" + encodeURIComponent(query)
      : window.location.pathname + window.location.search;
    try {
      window.history.replaceState(null, "", address);
    } catch (error) { /* an address that cannot change keeps the old fragment */ }
  }
  input.addEventListener("input", function () { apply(input.value); remember(input.value); });
  window.addEventListener("hashchange", function () {
    input.value = fromAddress();
    apply(input.value);
  });
  var buttons = document.querySelectorAll("button[data-filter]");
  for (var b = 0; b < buttons.length; b++) {
    buttons[b].addEventListener("click", function (event) {
      input.value = event.currentTarget.getAttribute("data-filter");
      apply(input.value);
      remember(input.value);
      table.scrollIntoView();
    });
  }
  input.value = fromAddress();
  apply(input.value);
})();
"""


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CSP = (
    "default-src 'none'; "
    f"script-src 'sha256-{_digest(_SCRIPT)}'; "
    f"style-src 'sha256-{_digest(_STYLE)}'; "
    "img-src 'none'; connect-src 'none'; font-src 'none'; object-src 'none'; "
    "media-src 'none'; frame-src 'none'; worker-src 'none'; manifest-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
"""The page's policy: no fetch of any kind; only its own style and script, by their hashes."""


@dataclass(frozen=True, slots=True)
class _Table:
    """The rows the table lists, as rows.csv holds them, and how many there are in all."""

    header: list[str]
    rows: pd.DataFrame
    """The listed rows' fields, in rows.csv's column positions (0, 1, ...)."""
    matched: int
    sheet_columns: int


class TableRows:
    """The rows report.html's table lists, gathered while rows.csv is written.

    They are the first ``TABLE_ROW_LIMIT`` failed or conflicted rows, their first
    ``TABLE_SHEET_COLUMNS`` sheet columns, copied out of each batch (never a view that would
    keep the batch alive), and a count of every such row.
    """

    def __init__(self, header: Sequence[str]) -> None:
        """Start gathering the rows of a rows.csv with ``header``."""
        self._header = [str(name) for name in header]
        self._width = min(len(self._header), _OWN_COLUMNS + TABLE_SHEET_COLUMNS)
        self._batches: list[list[pa.Array]] = []
        self._kept = 0
        self.matched = 0
        """How many failed or conflicted rows there were in all."""

    def add(self, fields: Sequence[pa.Array]) -> None:
        """Look at a batch of rows.csv's rows, given as its columns of text, in input order."""
        if not len(fields) or not len(fields[0]):
            return
        statuses = pa.array(TABLE_STATUSES, fields[1].type)
        hits = np.flatnonzero(pc.is_in(fields[1], value_set=statuses).to_numpy(False))
        self.matched += len(hits)
        wanted = hits[: max(TABLE_ROW_LIMIT - self._kept, 0)]  # read at run time: tests lower it
        if len(wanted):
            at = pa.array(wanted)
            self._batches.append([column.take(at) for column in fields[: self._width]])
            self._kept += len(wanted)

    def table(self) -> _Table:
        """Return the gathered rows as the table lists them."""
        if self._batches:
            columns = zip(*self._batches, strict=True)
            rows = pd.DataFrame(
                {
                    n: pd.Series(pd.arrays.ArrowStringArray(pa.concat_arrays(parts)))
                    for n, parts in enumerate(columns)
                }
            )
        else:
            rows = pd.DataFrame(columns=list(range(self._width)), dtype=str)
        sheet_columns = max(len(self._header) - _OWN_COLUMNS, 0)
        return _Table(self._header[: self._width], rows, self.matched, sheet_columns)


def write_html(
    target: IO[bytes], table: TableRows, meta: Mapping[str, Any], totals: Totals
) -> None:
    """Build report.html into ``target`` from the summary and the rows gathered for its table.

    Args:
        target: The open file to write the page into.
        table: The failed and conflicted rows, gathered while rows.csv was written.
        meta: The summary's facts (run id, vendor, mapping, unmapped columns, notes...).
        totals: The counts per status and per reason.
    """
    listed = table.table()
    page = "".join(
        [
            *_head(meta),
            *_overview(meta, totals),
            *_chart(totals),
            *_reasons(totals, listed),
            *_problems(totals),
            *_mapping(meta),
            *_rows_table(listed),
            "</main>\n",
            f"<script>{_SCRIPT}</script>\n</body>\n</html>\n",
        ]
    )
    target.write(page.encode("utf-8", "replace"))


# --- the page's parts -----------------------------------------------------------------------


def _text(value: object) -> str:
    """Return any value as inert HTML text: escaped, control characters made visible."""
    return escape(_CONTROL.sub("\ufffd", str(value)), quote=True)


def _head(meta: Mapping[str, Any]) -> Iterator[str]:
    source = Path(str(meta.get("source_file") or "")).name or "a sheet"
    vendor = str(meta.get("vendor") or "a vendor")
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Import report: {_text(source)} into {_text(vendor)}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>Import of {_text(source)} into {_text(vendor)}</h1>\n"
        f'<p class="sub">Run {_text(meta.get("run_id", ""))}</p>\n'
    )
    if meta.get("aborted"):
        yield (
            '<div class="banner bad" id="aborted"><b>The run was aborted:</b> '
            f"{_text(meta['aborted'])}</div>\n"
        )
    if meta.get("dry_run"):
        yield '<div class="banner info"><b>Dry run:</b> nothing was sent to the vendor.</div>\n'
    for note in meta.get("notes") or ():
        yield f'<div class="banner info">{_text(note)}</div>\n'


def _overview(meta: Mapping[str, Any], totals: Totals) -> Iterator[str]:
    yield '<section id="totals">\n<h2>Totals</h2>\n<div class="cards">\n'
    for name, count in totals.as_dict().items():
        yield (
            f'<div class="card {_text(name)}"><b>{count:,}</b><span>{_text(name)}</span></div>\n'
        )
    yield "</div>\n<h2>The run</h2>\n<dl>\n"
    for key, label in _FACTS:
        value = meta.get(key)
        if value not in (None, ""):
            yield f"<dt>{label}</dt><dd>{_text(value)}</dd>\n"
    yield "</dl>\n</section>\n"


def _chart(totals: Totals) -> Iterator[str]:
    """Draw one horizontal bar per status, as wide as its share of the largest."""
    counts = {name: count for name, count in totals.as_dict().items() if name != "rows"}
    largest = max(counts.values(), default=0) or 1
    rows = max(totals.rows, 1)
    bar_width, height = 520, 30
    yield (
        '<section id="chart">\n<h2>Rows per status</h2>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="760" '
        f'height="{height * len(counts) + 10}" viewBox="0 0 760 {height * len(counts) + 10}" '
        f'aria-label="Rows per status">\n'
    )
    for index, (name, count) in enumerate(counts.items()):
        y = 5 + index * height
        width = round(bar_width * count / largest, 1)
        share = f"{100 * count / rows:.1f}%"
        colour = _STATUS_COLOURS.get(name, "#607d8b")
        yield (
            f"<g><title>{_text(name)}: {count:,} ({share})</title>"
            f'<text x="0" y="{y + 19}" font-size="14" fill="#1f2933">{_text(name)}</text>'
            f'<rect x="110" y="{y + 4}" width="{max(width, 1 if count else 0)}" height="20" '
            f'rx="3" fill="{colour}"></rect>'
            f'<text x="{118 + width}" y="{y + 19}" font-size="13" fill="#5f6b7a">'
            f"{count:,} ({share})</text></g>\n"
        )
    yield "</svg>\n</section>\n"


def _reasons(totals: Totals, table: _Table) -> Iterator[str]:
    """List why rows were not created, most frequent first, each with a fix hint."""
    reasons = sorted(
        ((reason, count) for reason, count in totals.by_reason.items() if reason != "created"),
        key=lambda item: (-item[1], item[0]),
    )
    yield '<section id="reasons">\n<h2>Why rows were not created</h2>\n'
    if not reasons:
        yield "<p>Every row was created.</p>\n</section>\n"
        return
    listed = set(table.rows[2].tolist()) if len(table.rows) else set()
    yield (
        "<table>\n<thead><tr><th>Reason</th><th>Rows</th><th>What to do</th><th></th></tr>"
        "</thead>\n<tbody>\n"
    )
    for reason, count in reasons:
        hint = _hint(reason)
        show = (
            f'<button type="button" data-filter="{_text(reason)}">show rows</button>'
            if reason in listed
            else ""
        )
        yield (
            f'<tr><td class="code"><code>{_text(reason)}</code></td><td class="num">{count:,}</td>'
            f"<td>{_text(hint)}</td><td>{show}</td></tr>\n"
        )
    yield "</tbody>\n</table>\n</section>\n"


def _problems(totals: Totals) -> Iterator[str]:
    """List the most frequent problems of failed rows (the message's gist), with fix hints."""
    problems = totals.top_failures(TOP_PROBLEMS)
    if not problems:
        return
    yield (
        '<section id="problems">\n<h2>Most frequent problems of the failed rows</h2>\n'
        "<table>\n<thead><tr><th>Problem</th><th>Rows</th><th>What to do</th></tr></thead>\n"
        "<tbody>\n"
    )
    for problem, count in problems:
        hint = _hint(problem.split(":", 1)[0])
        yield (
            f'<tr><td>{_text(problem)}</td><td class="num">{count:,}</td>'
            f"<td>{_text(hint)}</td></tr>\n"
        )
    yield "</tbody>\n</table>\n</section>\n"


def _hint(reason: str) -> str:
    """Return the fix hint of a reason code; a code this importer does not know gets a pointer."""
    try:
        return HINTS[Reason(reason)]
    except ValueError:
        return _OTHER_HINT


def _mapping(meta: Mapping[str, Any]) -> Iterator[str]:
    """Show which column filled each field, and the columns no field used."""
    yield '<section id="mapping">\n<h2>Mapping</h2>\n'
    mapping = meta.get("mapping")
    if isinstance(mapping, Mapping) and mapping:
        yield (
            "<table>\n<thead><tr><th>Vendor field</th><th>Filled from</th></tr></thead>\n<tbody>\n"
        )
        for field, source in mapping.items():
            yield f"<tr><td><code>{_text(field)}</code></td><td>{_text(source)}</td></tr>\n"
        yield "</tbody>\n</table>\n"
    else:
        yield '<p class="muted">The mapping was not recorded for this run.</p>\n'
    unmapped = meta.get("unmapped_columns")
    yield '<h2 id="unused">Columns left unused</h2>\n'
    if unmapped:
        yield (
            "<p>No field took these columns, so their values were not sent. Map them with "
            "<code>--mapping</code>, or send them with <code>--extras-to-open-object</code> "
            'where the vendor has an open object.</p>\n<ul class="plain">\n'
        )
        for column in unmapped:
            yield f"<li>{_text(column)}</li>\n"
        yield "</ul>\n"
    elif unmapped is None:
        yield '<p class="muted">Not recorded for this run.</p>\n'
    else:
        yield "<p>Every column filled a field.</p>\n"
    yield "</section>\n"


def _rows_table(table: _Table) -> Iterator[str]:
    """List the failed and conflicted rows with their cells, filterable, capped."""
    shown = len(table.rows)
    yield '<section id="failed">\n<h2>Rows that failed or conflicted</h2>\n'
    if not table.matched:
        yield "<p>No row failed or conflicted.</p>\n</section>\n"
        return
    yield from _table_notes(table)
    yield (
        '<div class="filter"><input id="filter" type="search" autocomplete="off" '
        'placeholder="Filter rows: words that must all appear, e.g. validation email" '
        'aria-label="Filter rows"><span class="muted">showing <b id="shown">'
        f"{shown:,}</b> of {shown:,}</span></div>\n"
        '<div class="scroll">\n<table id="rows">\n<thead><tr>'
    )
    header = [*_REPORT_NAMES, *table.header[_OWN_COLUMNS:]]
    yield "".join(f"<th>{_text(name)}</th>" for name in header)
    yield "</tr></thead>\n<tbody>\n"
    columns = [0, 1, 2, 3, *range(_OWN_COLUMNS, len(table.header))]
    cells = {column: _shown_cells(table.rows[column]) for column in columns}
    statuses = table.rows[1].tolist()
    for index in range(shown):
        status = _text(statuses[index])
        parts = [
            f'<td class="num">{cells[0][index]}</td>',
            f'<td class="code"><span class="tag {status}">{status}</span></td>',
            f'<td class="code">{cells[2][index]}</td>',
            f'<td class="message">{cells[3][index]}</td>',
            *(f"<td>{cells[column][index]}</td>" for column in columns[4:]),
        ]
        yield f"<tr>{''.join(parts)}</tr>\n"
    yield "</tbody>\n</table>\n</div>\n</section>\n"


def _table_notes(table: _Table) -> Iterator[str]:
    shown = len(table.rows)
    if table.matched > shown:
        yield (
            f'<p class="banner info" id="capped">The table shows the first {shown:,} of '
            f"{table.matched:,} rows that failed or conflicted (at most {TABLE_ROW_LIMIT:,}); "
            "rows.csv and report.xlsx have every row.</p>\n"
        )
    if table.sheet_columns > TABLE_SHEET_COLUMNS:
        yield (
            f'<p class="muted">The table shows the first {TABLE_SHEET_COLUMNS} of the sheet\'s '
            f"{table.sheet_columns:,} columns.</p>\n"
        )
    yield (
        f'<p class="muted">Cells longer than {CELL_CHARS} characters are cut; rows.csv holds '
        "them whole.</p>\n"
    )


def _shown_cells(values: pd.Series) -> list[str]:
    """Return one column's cells as escaped HTML text, as typed, cut to ``CELL_CHARS``."""
    texts = pa.array(values.astype(str).array).cast(pa.large_string())
    typed = pc.utf8_slice_codeunits(texts, 1)
    quoted = pc.and_(  # the safety quote the report added is no data
        pc.starts_with(texts, "'"), pc.equal(neutralize_column(typed), texts)
    )
    texts = pc.if_else(quoted, typed, texts)
    cut = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(texts, 0, CELL_CHARS), _ELLIPSIS, _NOTHING
    )
    texts = pc.if_else(pc.greater(pc.utf8_length(texts), CELL_CHARS), cut, texts)
    return [str(text) for text in _escaped(texts).to_pylist()]


_ELLIPSIS, _NOTHING = pa.scalar("\u2026", pa.large_string()), pa.scalar("", pa.large_string())

_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
"""``_CONTROL`` in RE2 syntax."""


def _escaped(texts: pa.Array) -> pa.Array:
    """Return ``_text`` of every value: control characters made visible, then HTML-escaped."""
    texts = pc.replace_substring_regex(texts, _CONTROL_RE2, "\ufffd")
    for raw, escaped in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("'", "&#x27;"),
    ):
        texts = pc.replace_substring(texts, raw, escaped)
    return texts
