"""Turning SIGTERM and SIGHUP (a kill, a closed terminal or SSH session) into a clean stop.

Headless commands cancel their session task; the console ends the app. Either way the session's
own clean-up runs (files written, engines stopped) instead of the process dying mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def on_stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call `handler(signum)` on the running loop for SIGTERM and SIGHUP while inside the block."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handler, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
