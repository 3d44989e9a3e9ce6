"""Stop sending on SIGINT or SIGTERM: the one place a run and a worker install their handlers."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["stop_on_signals"]


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """Call ``stop`` with the signal's name on the first SIGINT or SIGTERM.

    A second signal gets the default behaviour (the ledger is committed as outcomes count, so
    even an abrupt end loses nothing). Outside the main thread nothing is installed: the
    caller handles signals there.
    """
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal(signum: int) -> None:
        for each in signals:
            loop.remove_signal_handler(each)
        stop(signal.Signals(signum).name)

    try:
        for signum in signals:
            loop.add_signal_handler(signum, on_signal, signum)
    except (RuntimeError, ValueError):  # not the main thread: the caller handles signals
        yield
        return
    try:
        yield
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
