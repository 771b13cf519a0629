"""The reaper: a tiny watchdog process that outlives quanttui only to stop its engines.

quanttui can be killed with SIGKILL (or lose its terminal) before it stops the engines it
launched; a GPU engine left behind holds gigabytes. So each launcher starts one reaper in its own
session, holding the read end of a pipe whose write end only quanttui has. quanttui tells it the
process group of every engine it starts ("add PGID") and forgets ("del PGID") after stopping one.
When the pipe reaches EOF for any reason (normal exit, crash, SIGKILL), the reaper sends SIGTERM to
every group still registered, waits the grace period, sends SIGKILL, and exits.

Run as `python -m quanttui.io.reaper GRACE_SECONDS`; it reads commands from stdin.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import IO


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _signal_all(groups: set[int], signum: int) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)


def reap(groups: set[int], grace_s: float) -> None:
    live = {g for g in groups if _alive(g)}
    if not live:
        return
    _signal_all(live, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(g) for g in live):
        time.sleep(0.1)
    _signal_all({g for g in live if _alive(g)}, signal.SIGKILL)


def main(argv: list[str]) -> int:
    grace_s = float(argv[1]) if len(argv) > 1 else 10.0
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe's EOF ends us
    groups: set[int] = set()
    for line in sys.stdin:
        verb, _, value = line.strip().partition(" ")
        if verb == "add" and value.isdigit():
            groups.add(int(value))
        elif verb == "del" and value.isdigit():
            groups.discard(int(value))
    reap(groups, grace_s)
    return 0


class ReaperHandle:
    """quanttui's side: start the reaper, register and unregister engine process groups."""

    def __init__(self, grace_s: float = 10.0) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "quanttui.io.reaper", str(grace_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C or SIGHUP aimed at our group must not reach it
            text=True,
        )
        self._stdin: IO[str] | None = self._process.stdin

    @property
    def pid(self) -> int:
        return self._process.pid

    def _send(self, line: str) -> None:
        if self._stdin is None:
            return
        try:
            self._stdin.write(line + "\n")
            self._stdin.flush()
        except (BrokenPipeError, ValueError):
            self._stdin = None

    def add(self, pgid: int) -> None:
        self._send(f"add {pgid}")

    def remove(self, pgid: int) -> None:
        self._send(f"del {pgid}")

    def close(self, wait_s: float = 30.0) -> None:
        """Close the pipe: the reaper stops whatever is still registered, then exits."""
        if self._stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._stdin.close()
            self._stdin = None
        try:
            self._process.wait(wait_s)
        except subprocess.TimeoutExpired:
            self._process.kill()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
