"""Retry a run: send again just the rows it left failed or deferred, as that run was set up.

A run's report folder holds what a retry needs: ``summary.json`` names the sheet, the vendor
and every setting the run was given (never a secret), and ``rows.csv`` says which rows ended
how. The sheet is read again (a person may have fixed those rows in place) and only those rows
are imported; the ledger still refuses anything already at the vendor.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from importer.config import RunConfig
from importer.contracts.contract import RateLimit
from importer.errors import ConfigError
from importer.ledger import is_database_url
from importer.lifecycle import Reason, Status
from importer.push.settings import PushSettings
from importer.read import ReadLimits

__all__ = ["RETRIED_REASONS", "Retry", "plan_retry"]

RETRIED_REASONS = frozenset({Reason.DEFERRED.value, Reason.ABORTED.value, Reason.CUT_SHORT.value})
"""Skipped rows a retry sends: those a run stopped before sending. Failed rows always go."""

_PATHS = frozenset({"sheet_path", "out_dir", "state_dir", "mapping_file"})
_SPECIAL = frozenset({"push", "limits", "rate_limit", "only_rows", "use_sandbox", "dry_run"})


@dataclass(frozen=True, slots=True)
class Retry:
    """What a retry will do: the earlier run, and the config that sends its rows again."""

    run_id: str
    config: RunConfig
    rows: frozenset[int]


def plan_retry(
    out_dir: Path,
    *,
    new_out: Path | None = None,
    state_dir: Path | str | None = None,
    resend_rejected: bool = False,
) -> Retry:
    """Read a run's report folder and return the config of a run that retries its rows.

    Args:
        out_dir: The folder the earlier run wrote its report into.
        new_out: Where the retry writes its report; default ``<out_dir>-retry``.
        state_dir: The ledger's folder, if not the one the earlier run used.
        resend_rejected: Send again rows the vendor refused, even unchanged.

    Raises:
        ConfigError: when the folder holds no complete report, the run was a dry run or used
            the embedded sandbox, or it left no row to retry.
    """
    summary = _summary(out_dir)
    arguments = summary.get("arguments")
    if not isinstance(arguments, dict):
        raise ConfigError(
            f"{out_dir / 'summary.json'} was written by an older importer that did not record "
            "the run's settings; run importer run again with the same options"
        )
    if arguments.get("use_sandbox") or arguments.get("dry_run"):
        kind = "a dry run" if arguments.get("dry_run") else "the embedded sandbox, now gone,"
        raise ConfigError(
            f"run {summary.get('run_id')} used {kind} so there is nothing to retry; run "
            "importer run again"
        )
    rows = _rows_to_retry(out_dir / "rows.csv")
    if not rows:
        raise ConfigError(f"run {summary.get('run_id')} left no failed or deferred row to retry")
    config = _config(arguments, out_dir=new_out or out_dir.with_name(f"{out_dir.name}-retry"))
    overrides: dict[str, Any] = {"only_rows": rows}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if resend_rejected:
        overrides["resend_rejected"] = True
    return Retry(str(summary.get("run_id")), replace(config, **overrides), rows)


def _summary(out_dir: Path) -> dict[str, Any]:
    if (out_dir / "INCOMPLETE.txt").exists():
        raise ConfigError(
            f"{out_dir} holds an incomplete report (see its INCOMPLETE.txt); rebuild it with "
            "importer report, or retry from a complete one"
        )
    try:
        summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{out_dir} has no summary.json: give the folder a run wrote its report into "
            "(its --out)"
        ) from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {out_dir / 'summary.json'}: {error}") from None
    if not isinstance(summary, dict):
        raise ConfigError(f"{out_dir / 'summary.json'} is not a run's summary")
    return summary


def _rows_to_retry(rows_csv: Path) -> frozenset[int]:
    """Return the rows rows.csv reports failed, or skipped before they were sent."""
    wanted = set()
    try:
        with rows_csv.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            # By position: the sheet's own columns follow, and may repeat these names.
            for cells in reader:
                row, status, reason = cells[0], cells[1], cells[2]
                if status == Status.FAILED.value or reason in RETRIED_REASONS:
                    wanted.add(int(row))
    except FileNotFoundError:
        raise ConfigError(f"{rows_csv.parent} has no rows.csv to retry from") from None
    except (OSError, ValueError, IndexError, csv.Error) as error:
        raise ConfigError(f"cannot read {rows_csv}: {error}") from None
    return frozenset(wanted)


def _config(arguments: dict[str, Any], *, out_dir: Path) -> RunConfig:
    """Rebuild the earlier run's config from the settings summary.json recorded."""
    known = {item.name for item in fields(RunConfig)}
    given: dict[str, Any] = {}
    for name, value in arguments.items():
        if name not in known or name in _SPECIAL:
            continue
        path = name in _PATHS and value is not None and not is_database_url(value)
        given[name] = Path(value) if path else value
    given["out_dir"] = out_dir
    given["push"] = PushSettings(
        concurrency=int(arguments.get("concurrency") or PushSettings().concurrency),
        max_run_seconds=arguments.get("time_budget_seconds"),
    )
    given["limits"] = ReadLimits(**(arguments.get("limits") or {}))
    if arguments.get("rate_limit"):
        requests, _, seconds = str(arguments["rate_limit"]).partition("/")
        given["rate_limit"] = RateLimit(int(requests), float(seconds.rstrip("s")))
    return RunConfig(**given)
