"""Turn a saved job into the run it stands for: today's sheet, its config, its environment.

The run's config is assembled here, once, at the edge; the pipeline never hears of jobs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from importer.config import RunConfig
from importer.errors import InputError, MissingCredential
from importer.jobs.file import Job
from importer.jobs.threshold import FailureThreshold
from importer.push.settings import PushSettings

_GLOB = re.compile(r"[*?[]")


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A job ready to run: its config, the environment its credentials are read from, and the
    threshold its failed rows are held to."""

    config: RunConfig
    env: Mapping[str, str]
    threshold: FailureThreshold | None


def prepare(job: Job, *, env: Mapping[str, str], now: datetime, dry_run: bool) -> PreparedRun:
    """Return the run ``job`` stands for at ``now`` (UTC), reading credentials from ``env``.

    Raises:
        InputError: when the job's sheet is a glob that matches no file.
        MissingCredential: when a variable the job names for a credential is unset.
    """
    config = RunConfig(
        sheet_path=newest_match(job.sheet),
        vendor=job.vendor,
        out_dir=report_folder(job, now),
        base_url=job.base_url,
        use_sandbox=job.sandbox,
        state_dir=job.state,
        constants=dict(job.constants),
        mapping_file=job.mapping,
        sheet_name=job.worksheet,
        header_row=job.header_row,
        dry_run=dry_run,
        extras_to_open_object=job.extras_to_open_object,
        resend_rejected=job.resend_rejected,
        account=job.account,
        rate_limit=job.rate_limit,
        push=PushSettings(concurrency=job.concurrency, max_run_seconds=job.time_budget),
    )
    return PreparedRun(config, job_env(job, env), job.fail_if_failed_over)


def newest_match(pattern: Path) -> Path:
    """Return ``pattern`` itself, or if it is a glob, the matching file modified last.

    Raises:
        InputError: when a glob matches no file.
    """
    if not _GLOB.search(str(pattern)):
        return pattern
    parts = pattern.parts
    first = next(index for index, part in enumerate(parts) if _GLOB.search(part))
    base = Path(*parts[:first])
    files = [path for path in base.glob("/".join(parts[first:])) if path.is_file()]
    if not files:
        raise InputError(f"no file matches {pattern}")
    return max(files, key=lambda path: (path.stat().st_mtime_ns, path.name))


def report_folder(job: Job, now: datetime) -> Path:
    """Return the job's report folder, its ``{job}``, ``{date}`` and ``{stamp}`` filled in."""
    return Path(
        job.out.format(
            job=job.name,
            date=now.strftime("%Y-%m-%d"),
            stamp=now.strftime("%Y%m%dT%H%M%SZ"),
        )
    )


def job_env(job: Job, env: Mapping[str, str]) -> dict[str, str]:
    """Return ``env`` with each credential the job renames read from the variable it names.

    The vendor's own variable is never used for a renamed credential, so a job cannot send one
    account's key to another by accident. With a sandbox, an unset variable leaves the
    sandbox's own credential to apply.

    Raises:
        MissingCredential: when a named variable is unset or empty (and no sandbox applies).
    """
    result = dict(env)
    for wanted, source in job.credentials.items():
        result.pop(wanted, None)
        value = env.get(source, "")
        if value.strip():
            result[wanted] = value
        elif not job.sandbox:
            raise MissingCredential(
                f"{source} is not set: job {job.name} reads its {wanted} from it "
                f"({job.file.name}); export it before running"
            )
    return result
