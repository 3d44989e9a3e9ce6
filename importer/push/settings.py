"""How hard and how patiently a run pushes: settings light enough to import without a client."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSettings:
    """How hard and how patiently to push; every default lives here."""

    concurrency: int = 8
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    retry_after_cap_seconds: float = 120.0
    max_response_bytes: int = 1_000_000
    """Read at most this much of an answer's body (a vendor's answers are small JSON)."""
    max_row_seconds: float = 300.0
    """Give up on a row whose retries would run longer than this."""
    max_run_seconds: float | None = None
    """Send no new row after this budget, nor wait past it; the rows left are ``deferred``."""
