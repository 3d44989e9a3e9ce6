"""The public API: run an import from code, with or without a running event loop (issue 11)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import importer
from importer import RunConfig, RunResult, run_import, run_import_async
from importer.sandbox import EmbeddedSandbox
from tests.conftest import stored_records

ENV = {"OFFERGRID_API_KEY": "sandbox-offergrid-key"}


def sheet(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email"])
        writer.writerows([f"P{i}", f"p{i}@example.com"] for i in range(count))
    return path


def config(tmp_path: Path, sandbox: EmbeddedSandbox, name: str) -> RunConfig:
    return RunConfig(
        sheet_path=sheet(tmp_path / f"{name}.csv", 20),
        vendor="offergrid-leads",
        out_dir=tmp_path / name,
        base_url=sandbox.base_url,
        state_dir=tmp_path / "state",
    )


def test_the_package_exports_a_typed_api() -> None:
    assert set(importer.__all__) >= {"RunConfig", "RunResult", "run_import", "run_import_async"}
    assert (Path(importer.__file__).parent / "py.typed").exists()


def test_run_import_works_inside_a_running_event_loop(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    async def task() -> RunResult:  # like a notebook cell or an orchestrator's async task
        return run_import(config(tmp_path, leads_sandbox, "nested"), env=ENV)

    result = asyncio.run(task())
    assert (result.totals.created, result.exit_code) == (20, 0)
    assert len(stored_records(leads_sandbox.base_url)) == 20


def test_run_import_async_shares_the_loop_with_other_tasks(
    tmp_path: Path, leads_sandbox: EmbeddedSandbox
) -> None:
    ticks: list[int] = []

    async def heartbeat() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    async def flow() -> RunResult:
        beating = asyncio.create_task(heartbeat())
        try:
            return await run_import_async(config(tmp_path, leads_sandbox, "async"), env=ENV)
        finally:
            beating.cancel()

    result = asyncio.run(flow())
    assert result.totals.created == 20
    assert ticks, "the import never let another task run"
    again = run_import(config(tmp_path, leads_sandbox, "again"), env=ENV)
    assert (again.totals.created, again.totals.skipped) == (0, 20)
