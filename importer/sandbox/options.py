"""What a sandbox does beyond the vendor's documented rules: faults on demand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxOptions:
    """How the sandbox behaves beyond the vendor's documented rules; defaults are faithful."""

    latency_ms: int = 0
    """Delay every answer by this much (plus up to 50% jitter)."""
    fail_rate: float = 0.0
    """Answer this fraction of create requests with a 500, storing nothing."""
    drop_rate: float = 0.0
    """Store this fraction of records, then drop the connection before answering."""
    rate_limit: tuple[int, float] | None = None
    """(requests, seconds): answer 429 with Retry-After beyond that many in any such window."""
    auth_fail_after: int | None = None
    """Refuse the credentials (401) on every create request after this many."""
    seed: int | None = None
    """Seed of the fault dice, for repeatable rehearsals."""
    preload: bool = True
    """Start holding the contract's ``sandbox.existing_records`` (answered 409, not listed)."""
