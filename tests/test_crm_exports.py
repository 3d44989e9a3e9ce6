"""CRM exports written by hand from public formats, imported as a new user would (issue 2)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO

EXPORTS = REPO / "tests" / "crm_exports"
OPTIONS = {
    "salesforce_leads.xlsx": ["--sheet", "Leads"],
    "eu_german_cp1252.csv": ["--mapping", str(EXPORTS / "eu_german_mapping.yaml")],
}


def expected() -> dict[str, list[tuple[str, str, str]]]:
    by_file: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    with (EXPORTS / "expected.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_file[row["file"]].append((row["source_row"], row["status"], row["reason"]))
    return by_file


@pytest.mark.parametrize("name", sorted(expected()))
def test_export_imports_with_the_expected_status_on_every_row(name: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "importer",
            "run",
            str(EXPORTS / name),
            "--vendor",
            "offergrid-leads",
            "--sandbox",
            "--out",
            str(tmp_path),
            "--state",
            str(tmp_path / "state"),
            *OPTIONS.get(name, []),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={key: value for key, value in os.environ.items() if key != "OFFERGRID_API_KEY"},
    )
    assert result.returncode in (0, 1), result.stderr
    with (tmp_path / "rows.csv").open(encoding="utf-8-sig", newline="") as handle:
        got = [(row["source_row"], row["status"], row["reason"]) for row in csv.DictReader(handle)]
    assert got == expected()[name]
