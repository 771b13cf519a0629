"""Textual's Linux driver with an output thread that survives a terminal that went away.

Textual writes every frame through a thread fed by a bounded queue (30 writes). When the SSH
session or tmux pane closes, the thread's next write raises EIO and the thread dies; the queue then
fills and the app's event loop blocks for ever in `Queue.put` (even inside its own shutdown), so a
quit, a SIGTERM handled on the loop and the session's clean-up never run: the orphaned console seen
in issue #15. Here the writer never dies: a failed write marks the terminal gone, later writes are
dropped, and the process is sent SIGHUP, so a lost terminal ends the console by the same path as a
hang-up (session/signals.py `HangupGuard`). A writer blocked on a terminal that stopped reading is
covered by that guard's hard deadline.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from typing import IO

from textual.drivers.linux_driver import LinuxDriver

MAX_QUEUED_WRITES = 30  # as Textual's own writer: backpressure from a slow terminal
STOP_WAIT_S = 2.0  # how long closing waits for the writer to flush before leaving it


class TerminalWriter(threading.Thread):
    """Writes queued text to the terminal; after a failed write it drops everything."""

    def __init__(self, file: IO[str]) -> None:
        super().__init__(daemon=True, name="quanttui-output")
        self._queue: queue.Queue[str | None] = queue.Queue(MAX_QUEUED_WRITES)
        self._file = file
        self.gone = threading.Event()

    def write(self, text: str) -> None:
        if self.gone.is_set():
            return
        while True:
            try:
                self._queue.put(text, timeout=0.5)
                return
            except queue.Full:
                if self.gone.is_set():
                    return

    def run(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                break
            if self.gone.is_set():
                continue  # drain: nobody reads the terminal any more
            try:
                self._file.write(text)
                if self._queue.qsize() == 0:
                    self._file.flush()
            except (OSError, ValueError):
                self._lost()
        with contextlib.suppress(OSError, ValueError):
            if not self.gone.is_set():
                self._file.flush()

    def _lost(self) -> None:
        """The terminal is gone (EIO, EPIPE, closed): nothing more is written, and the console is
        told as a hang-up would tell it."""
        if not self.gone.is_set():
            self.gone.set()
            with contextlib.suppress(OSError):
                os.kill(os.getpid(), signal.SIGHUP)

    def stop(self) -> None:
        """End the thread once what is queued is written (or dropped); never waits for ever."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=STOP_WAIT_S)
        self.join(STOP_WAIT_S)


class HangupSafeDriver(LinuxDriver):
    """LinuxDriver whose output goes through `TerminalWriter` instead of Textual's writer thread."""

    _safe_writer: TerminalWriter | None = None

    def start_application_mode(self) -> None:
        self._safe_writer = TerminalWriter(self._file)
        self._safe_writer.start()
        super().start_application_mode()

    def write(self, data: str) -> None:
        if self._safe_writer is not None:
            self._safe_writer.write(data)

    def close(self) -> None:
        if self._safe_writer is not None:
            self._safe_writer.stop()
        super().close()  # Textual's own writer thread never got a write: it stops at once
