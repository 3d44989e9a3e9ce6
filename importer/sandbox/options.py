"""What a sandbox does beyond the vendor's documented rules: faults on demand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxOptions:
    """How the sandbox behaves beyond the vendor's documented rules; defaults are faithful."""

    latency_ms: int = 0
    """Delay every answer by this much (with up to 50% jitter)."""
    fail_rate: float = 0.0
    """Answer this fraction of create requests with a 500, storing nothing."""
    seed: int | None = None
    """Seed of the fault dice, for repeatable rehearsals."""
    preload: bool = True
    """Start holding the contract's ``sandbox.existing_records`` (answered 409, not listed)."""
