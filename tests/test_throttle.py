"""The throttle's timeline of send slots and its adaptive rate, on clocks the test moves."""

from __future__ import annotations

import asyncio

import pytest

from importer.contracts.contract import RateLimit
from importer.push import throttle
from importer.push.throttle import (
    DECREASE,
    HOLD_SHARE,
    PACE_SHARE,
    PROBE_STEP,
    Throttle,
    _Slots,
)


class Clock:
    """A monotonic clock that moves only when someone sleeps on it (or the test says)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttle.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(throttle.asyncio, "sleep", fake.sleep)
    return fake


def test_waiting_takers_get_slots_an_interval_apart(clock: Clock) -> None:
    slots = _Slots()

    async def take_three() -> None:
        for _ in range(3):
            await slots.take(0.05)

    asyncio.run(take_three())
    assert clock.slept == [0.05, 0.1]  # the first goes at once; nobody waited on the clock


def test_a_late_taker_pushes_no_later_slot_back_and_gets_no_burst(clock: Clock) -> None:
    slots = _Slots()

    async def go() -> None:
        await slots.take(0.05)  # slot 100.00
        await slots.take(0.05)  # slot 100.05 (sleeps 0.05)
        clock.now = 100.07  # woke 20 ms late: the next slot is still 100.10
        await slots.take(0.05)
        clock.now = 101.0  # idle for a while: no credit, the next goes now, then an interval
        await slots.take(0.05)
        await slots.take(0.05)

    asyncio.run(go())
    assert clock.slept == [0.05, 0.03, 0.05]


def test_the_strictest_documented_limit_sets_the_interval(clock: Clock) -> None:
    limits = [RateLimit(requests=100, per_seconds=60), RateLimit(requests=10_000, per_seconds=3600)]
    paced = Throttle(limits=limits, max_concurrency=4)

    async def two() -> None:
        await paced.before_attempt(None, 1)  # type: ignore[arg-type]
        await paced.before_attempt(None, 1)  # type: ignore[arg-type]

    asyncio.run(two())
    assert clock.slept == [round(60 / (100 * PACE_SHARE), 6)]


def test_after_a_429_the_pace_climbs_back_to_just_under_that_rate_and_holds() -> None:
    aimd = Throttle(limits=[], max_concurrency=16)
    now = 10.0
    for step in range(20):  # the server accepted 20 in the last second...
        aimd._succeeded(now - 0.9 + step * 0.04)
    aimd._throttled(now, 1.0)  # ...then said no
    assert aimd.rate == pytest.approx(20 * DECREASE)
    paces = []
    for step in range(2000):  # a minute of successes at the adaptive pace
        aimd._succeeded(now + 1 + step * 0.03)
        paces.append(aimd.rate or 0.0)
    assert max(paces[:700]) == pytest.approx(20 * HOLD_SHARE)  # climbed back, held under it
    assert paces[-1] == pytest.approx(20 * HOLD_SHARE * PROBE_STEP)  # then probed a step up


def test_a_429_at_the_held_rate_lowers_the_ceiling_to_it() -> None:
    aimd = Throttle(limits=[], max_concurrency=16)
    for step in range(20):
        aimd._succeeded(9.1 + step * 0.04)
    aimd._throttled(10.0, 1.0)
    for step in range(600):
        aimd._succeeded(11 + step * 0.03)
    held = aimd.rate
    assert held == pytest.approx(20 * HOLD_SHARE)
    aimd._throttled(40.0, 1.0)
    assert aimd.rate == pytest.approx(held * DECREASE)
    for step in range(600):
        aimd._succeeded(41 + step * 0.03)
    assert aimd.rate == pytest.approx(held * HOLD_SHARE)
