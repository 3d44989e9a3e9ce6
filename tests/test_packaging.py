"""The built wheel carries the vendor contracts, so a non-editable install finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_ships_every_contract_and_the_sandbox(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("importer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    contracts = {path.name for path in (REPO / "schemas").glob("*.yaml")}
    assert len(contracts) == 5
    assert {f"importer/schemas/{name}" for name in contracts} <= names
    assert "importer/sandbox/emulator.py" in names
    for package in ("cli", "contracts", "ledger", "pipeline", "push", "read", "report"):
        assert f"importer/{package}/__init__.py" in names
