"""Properties of a whole run: every input row is accounted for exactly once."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.config import RunConfig
from importer.contracts.contract import load_contract
from importer.pipeline.run import run_import
from importer.push.settings import PushSettings
from importer.sandbox import EmbeddedSandbox, SandboxOptions

STATUSES = {"created", "conflicted", "failed", "duplicate", "skipped"}
names = st.one_of(st.just(""), st.text(min_size=1, max_size=12))
emails = st.one_of(
    st.just(""),
    st.sampled_from(["a@example.com", " A@Example.com ", "b@example.org", "bad@", "c@x"]),
    st.emails(),
)
cells = st.tuples(names, emails, st.sampled_from(["", "lead", "customer", "Customer", "vip"]))
sheets = st.lists(st.one_of(cells, st.just(("", "", ""))), max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets, st.integers(min_value=1, max_value=6))
def test_every_row_lands_in_exactly_one_status(
    rows: list[tuple[str, str, str]], chunk: int
) -> None:
    contract = load_contract("offergrid-leads")
    with (
        tempfile.TemporaryDirectory() as folder,
        EmbeddedSandbox(contract, SandboxOptions(fail_rate=0.2, seed=len(rows))) as sandbox,
    ):
        work = Path(folder)
        sheet = work / "sheet.csv"
        with sheet.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Name", "Email", "Type"])
            writer.writerows(rows)
        result = run_import(
            RunConfig(
                sheet_path=sheet,
                vendor="offergrid-leads",
                out_dir=work / "out",
                base_url=sandbox.base_url,
                state_dir=work / "state",
                chunk_rows=chunk,
                push=PushSettings(
                    concurrency=3, backoff_initial_seconds=0.001, backoff_max_seconds=0.005
                ),
            ),
            env={"OFFERGRID_API_KEY": "sandbox-offergrid-key"},
        )
        with result.files.rows_csv.open(encoding="utf-8-sig", newline="") as handle:
            reported = list(csv.DictReader(handle))
    data_rows = [index + 2 for index, row in enumerate(rows) if any(cell.strip() for cell in row)]
    assert [int(row["source_row"]) for row in reported] == data_rows
    assert all(row["status"] in STATUSES for row in reported)
    totals = result.totals.as_dict()
    assert totals["rows"] == len(data_rows)
    for status in STATUSES:
        assert totals[status] == sum(row["status"] == status for row in reported)
