"""A private tmux server to drive the console as a person would (keys in, the screen's text out)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable

from waiting import wait_until

TMUX = shutil.which("tmux")


class Tmux:
    """A private tmux server (its own socket), so a developer's sessions are never touched."""

    def __init__(self) -> None:
        # Its own socket per test: a server still shutting down from the previous test must not
        # meet the next one's new-session ("server exited unexpectedly", seen in CI).
        self.socket = f"quanttui-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        command = [TMUX, "-u", "-L", self.socket, "-f", os.devnull, *args]
        # An explicit environment: pytest imports readline, which setenv()s COLUMNS=80 and LINES=24 in
        # this process (not in os.environ), and a console that inherits them ignores the pane's size.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=10, env=env).stdout

    def new_session(self, size: tuple[int, int], command: str) -> None:
        """The console in a new session; its pane stays after it exits, so a console that ends
        too early shows "Pane is dead (status N)" instead of taking the whole tmux server with it."""
        self("new-session", "-d", "-s", "qt", "-x", str(size[0]), "-y", str(size[1]), command,
             ";", "set-option", "-t", "qt", "remain-on-exit", "on")  # fmt: skip

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "qt")

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        last = [""]

        def shown() -> str | None:
            try:
                last[0] = self.screen()
            except subprocess.TimeoutExpired:
                # tmux itself may not answer within 10 s while engines saturate both cores (seen in
                # CI during a profile): a slow poll is "not yet", the deadline still decides.
                return None
            return last[0] if check(last[0]) else None

        return wait_until(shown, timeout, what, poll=0.05, detail=lambda: f"screen:\n{last[0]}")
