"""An import's configuration: frozen, typed, keyword-only, defaulted here, built once at the edge.

The CLI, a job file, a retry or a caller's code assemble a ``RunConfig``; the pipeline only
reads it. It never holds a secret: credentials come from the environment the run is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from importer.contracts.contract import RateLimit
from importer.push.settings import PushSettings
from importer.read.limits import ReadLimits

__all__ = ["RunConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything one import needs, assembled once at the edge (the CLI or a caller)."""

    sheet_path: Path
    vendor: str
    out_dir: Path
    base_url: str | None = None
    use_sandbox: bool = False
    state_dir: Path | str | None = None
    """Where the ledger lives: a folder, or a ``postgresql://`` URL (``importer.ledger``); None
    means the user's state directory."""
    constants: Mapping[str, str] = field(default_factory=dict)
    mapping_file: Path | None = None
    sheet_name: str | None = None
    dry_run: bool = False
    extras_to_open_object: bool = False
    resend_rejected: bool = False
    """Send again rows the vendor refused in an earlier run, even unchanged."""
    account: str | None = None
    """Name of the vendor account in the ledger; default: the vendor's normalized base URL."""
    rate_limit: RateLimit | None = None
    """A client-side limit that replaces the vendor's documented one."""
    chunk_rows: int = 20_000
    """Rows per chunk (fewer for a very wide sheet): pandera's cost per chunk made 5,000-row
    chunks validate 2-3x slower (issue 9's profile), and 20,000 rows are still a few MB."""
    push: PushSettings = field(default_factory=PushSettings)
    limits: ReadLimits = field(default_factory=ReadLimits)
    """What the input file may hold: its size, rows, columns, cells (see ReadLimits)."""
    only_rows: frozenset[int] | None = None
    """Import only these rows, by spreadsheet row number (a retry); None imports every row."""
    header_row: int | None = None
    """The sheet's header row number; None finds it (the first row, unless a title is above)."""
