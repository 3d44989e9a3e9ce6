"""Rebuild any run's report from the ledger, the source of truth, including a run cut short."""

from __future__ import annotations

from pathlib import Path

from importer.ledger import StateLocation, open_run, still_running
from importer.lifecycle import as_reported
from importer.report.totals import Totals
from importer.report.writer import ReportFiles, ReportWriter


def rebuild_report(
    state_dir: StateLocation, run_id: str, out_dir: Path
) -> tuple[Totals, ReportFiles]:
    """Write the report of run ``run_id`` into ``out_dir`` from the ledger at ``state_dir``.

    Rows a run cut short left ``planned`` or ``sending`` are reported as ``cut_short``; rows
    it never read are not in the ledger, and the summary says how many rows were recorded.

    Raises:
        UnknownRun: when the ledger holds no such run.
        ConfigError: when the state or the output folder cannot be used.
    """
    ledger, run = open_run(state_dir, run_id, lock=False)
    try:
        ending = run.ending
        if ending == "running":
            ending = "running" if still_running(state_dir, run) else "cut short"
        writer = ReportWriter(out_dir, run.columns, run_id=run_id)
        try:
            for row in ledger.run_rows(run_id):
                writer.write_row(as_reported(row.outcome), row.cells)
            meta = {
                "run_id": run.run_id,
                "vendor": run.vendor,
                "account": run.account,
                "source_file": run.source_file,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "ending": ending,
                "rebuilt_from_ledger": True,
                "rows_recorded": writer.totals.rows,
                "arguments": dict(run.arguments),
            }
            files = writer.finish(meta)
        except BaseException:
            writer.abort()
            raise
        return writer.totals, files
    finally:
        ledger.close()
