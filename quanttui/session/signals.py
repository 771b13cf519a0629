"""Turning SIGTERM and SIGHUP (a kill, a closed terminal or SSH session) into a clean stop.

Headless commands cancel their session task; the console ends the app. Either way the session's
own clean-up runs (files written, engines stopped) instead of the process dying mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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
    main thread even while it waits on a lock. It does only async-signal-safe work: it notes the
    signal and writes one byte to a pipe. A watchdog thread, started on entry and blocked reading
    that pipe, then calls `on_stop(signum)` (thread-safe hand-offs only) and ends the process with
    128+signum `deadline_s` later if it is still alive; `signal.alarm` is set too, so the kernel ends
    it even if Python itself is stuck finalizing. Engines are stopped even then, by the reaper
    (io/reaper.py), which sees quanttui's pipe close.
    """

    def __init__(self, on_stop: Callable[[int], None], deadline_s: float = HANGUP_DEADLINE_S) -> None:
        self.on_stop = on_stop
        self.deadline_s = deadline_s
        self.signalled: list[int] = []
        self.heard = threading.Event()  # set by the watchdog once a signal came (others may wait on it)
        self._previous: dict[int, object] = {}
        self._read_fd, self._write_fd = os.pipe()
        self._watchdog = threading.Thread(target=self._watch, name="quanttui-deadline", daemon=True)

    def __enter__(self) -> HangupGuard:
        self._watchdog.start()
        for signum in handled_signals():
            with contextlib.suppress(ValueError, OSError):  # not the main thread: nothing to guard
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, previous)  # type: ignore[arg-type]
        if not self.signalled:
            os.write(self._write_fd, b"\0")  # no signal came: the watchdog ends
        # After a signal the deadline stays armed: it covers the process's own exit too (a thread
        # that never ends keeps the interpreter waiting at shutdown).

    def _handle(self, signum: int, _frame: object) -> None:
        self.signalled.append(signum)
        with contextlib.suppress(OSError):
            os.write(self._write_fd, bytes([signum]))

    def _watch(self) -> None:
        signum = os.read(self._read_fd, 1)[0]
        if signum == 0:
            return
        signal.alarm(math.ceil(self.deadline_s) + 2)
        self.on_stop(signum)
        self.heard.set()  # after on_stop: whoever waits on it finds the stop already sent
        time.sleep(self.deadline_s)
        with contextlib.suppress(OSError, ValueError):
            name = signal.Signals(signum).name
            os.write(2, f"quanttui: still running {self.deadline_s:g} s after {name}: ended now\n".encode())
        os._exit(128 + signum)
