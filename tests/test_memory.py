"""Hostile files are answered in bounded memory: every one under 500 MB at its peak (issue 10).

Each heavy file is imported (``--dry-run``) by a process of its own, whose peak resident size the
kernel reports while it runs (VmHWM), so the figure is the whole program's: Python, pandas
and all. Beside the generated hostile files: a zip bomb that unpacks to 512 MiB from a few
hundred KiB, and a CSV line of 150 MB.
"""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile import HOSTILE, MIB, handmade_xlsx

PEAK_LIMIT_MB = 500

HEAVY = frozenset(
    {"bomb.xlsx", "laughs.xlsx", "wide.csv", "wide.xlsx", "long-cell.csv", "deep-quotes.csv"}
)
"""The generated hostile files that unpack, expand or stretch; the others are a few KiB of
bytes read once (a process each would cost CI a minute to show what their size already does)."""


def big_bomb(path: Path) -> Path:
    """Write a workbook whose sheet unpacks to 512 MiB, made from the small one's parts."""
    small = path.with_suffix(".small.xlsx")
    small.write_bytes(handmade_xlsx(b""))
    row = b"<row>" + b"<c><v>1</v></c>" * 64 + b"</row>"
    block = row * (MIB // len(row))
    with zipfile.ZipFile(small) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename != "xl/worksheets/sheet1.xml":
                out.writestr(item, data)
                continue
            head, _, tail = data.partition(b"</sheetData>")
            with out.open(item.filename, "w", force_zip64=True) as entry:
                entry.write(head)
                for _ in range(512):
                    entry.write(block)
                entry.write(b"</sheetData>" + tail)
    small.unlink()
    return path


def long_line(path: Path) -> Path:
    """Write a CSV whose second row is one 150 MB cell, then an ordinary row."""
    with path.open("wb") as handle:
        handle.write(b"Full Name,Email\n")
        chunk = b"x" * MIB
        for _ in range(150):
            handle.write(chunk)
        handle.write(b",a@example.com\nAda,ada@example.com\n")
    return path


def peak_mb(path: Path, out: Path) -> tuple[int, float, str]:
    """Import ``path`` in a process of its own; return its exit code, peak MB and stderr.

    The peak is the process's VmHWM, read from /proc while it runs: the high-water mark of
    its own memory since exec. (ru_maxrss would also count the pages the child shared with
    this test process between fork and exec.)
    """
    command = [sys.executable, "-m", "importer", "run", str(path), "--vendor", "offergrid-leads"]
    command += ["--dry-run", "--out", str(out), "--set", "fullName=Someone"]
    errors = out.with_name(f"{out.name}.stderr")
    with errors.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        status = Path(f"/proc/{process.pid}/status")
        peak_kb = 0
        while process.poll() is None:
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
                peak_kb = max(peak_kb, int(fields["VmHWM"].split()[0]))
            except (OSError, KeyError, ValueError):  # not exec'd yet, or just ended
                pass
            time.sleep(0.01)
    return process.returncode, peak_kb / 1024, errors.read_text("utf-8", "replace")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/PID/status")
def test_every_hostile_file_is_answered_under_500_mb(tmp_path: Path) -> None:
    files = [hostile.write(tmp_path) for hostile in HOSTILE if hostile.name in HEAVY]
    assert len(files) == len(HEAVY)
    files += [big_bomb(tmp_path / "bomb-512mib.xlsx"), long_line(tmp_path / "long-line.csv")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: (p, *peak_mb(p, tmp_path / f"out-{p.name}")), files))
    over = {path.name: round(peak) for path, _, peak, _ in results if peak >= PEAK_LIMIT_MB}
    assert not over, f"peak memory over {PEAK_LIMIT_MB} MB: {over}"
    for path, code, _, errors in results:
        assert code in (0, 1, 2), (path.name, errors)
        assert "Traceback" not in errors, (path.name, errors)
