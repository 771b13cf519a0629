"""Turning SIGTERM and SIGHUP (a kill, a closed terminal or SSH session) into a clean stop.

Headless commands cancel their session task; the console ends the app. Either way the session's
own clean-up runs (files written, engines stopped) instead of the process dying mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def handled_signals() -> list[int]:
    """The stop signals to handle: SIGHUP is left alone when it is ignored (`nohup quanttui ...`:
    the operator asked for the run to outlive the terminal)."""
    return [s for s in STOP_SIGNALS if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN)]


@contextlib.contextmanager
def on_stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call `handler(signum)` on the running loop for SIGTERM and SIGHUP while inside the block."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in handled_signals():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, handler, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


# How long the console may take to end after a hang-up or SIGTERM, whatever is stuck (ui/run.py
# splits it: the session's own stop, then the engines' TERM-to-KILL grace, then the app's exit).
HANGUP_DEADLINE_S = 9.0


class HangupGuard:
    """SIGTERM and SIGHUP handled at the Python level, with a hard deadline behind them.

    `loop.add_signal_handler` only runs its handler when the event loop runs; a loop blocked (on a
    terminal that went away, see ui/terminal.py) never does. A `signal.signal` handler runs in the
    main thread even while it waits on a lock, so the stop request always gets out: `on_stop(signum)`
    must only hand work to other threads (thread-safe calls, no waiting). The first signal also
    starts a daemon thread that ends the process with 128+signum `deadline_s` later if it is
    still alive: a structural backstop, not a fixed race. Engines are stopped even then, by the
    reaper (io/reaper.py), which sees quanttui's pipe close.
    """

    def __init__(self, on_stop: Callable[[int], None], deadline_s: float = HANGUP_DEADLINE_S) -> None:
        self.on_stop = on_stop
        self.deadline_s = deadline_s
        self.signalled: list[int] = []
        self._previous: dict[int, object] = {}
        self._deadline: threading.Thread | None = None

    def __enter__(self) -> HangupGuard:
        for signum in handled_signals():
            with contextlib.suppress(ValueError, OSError):  # not the main thread: nothing to guard
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, previous)  # type: ignore[arg-type]
        # The deadline (if started) stays armed: it covers the process's own exit too (a thread
        # that never ends keeps the interpreter waiting at shutdown).

    def _handle(self, signum: int, _frame: object) -> None:
        self.signalled.append(signum)
        if self._deadline is None:
            self._deadline = threading.Thread(
                target=_end_after, args=(self.deadline_s, signum), name="quanttui-deadline", daemon=True
            )
            self._deadline.start()
        self.on_stop(signum)


def _end_after(seconds: float, signum: int) -> None:
    time.sleep(seconds)
    with contextlib.suppress(OSError, ValueError):
        name = signal.Signals(signum).name
        os.write(2, f"quanttui: still running {seconds:g} s after {name}: ended now\n".encode())
    os._exit(128 + signum)
