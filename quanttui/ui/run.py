"""Running the console around a session, and the exit code it ends with.

The session's run() is an asyncio task started by the app on mount (awaiting the session's own
thread, see session/handle.py); the app may end in any way
(quit, a crash, a signal that closes the loop's main task), and this module then stops the session
and awaits it, so launched engines are stopped before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

from quanttui.session.commands import Stop
from quanttui.session.handle import DrivableSession, SessionHandle
from quanttui.session.signals import HangupGuard
from quanttui.session.thread import responsive_switching
from quanttui.ui.app import QuanttuiApp

STOP_GRACE_S = 60.0  # a quit: how long the session may take to stop before it is cancelled
# A hang-up must end within HANGUP_DEADLINE_S (session/signals.py): the session is cancelled at once
# (requests in flight end; the recording and sweep.csv are written on the way out) and its engines
# get HANGUP_ENGINE_GRACE_S between SIGTERM and SIGKILL.
HANGUP_ENGINE_GRACE_S = 2.0
# What a live run leaves in its folder, in the order the exit line names them.
RUN_OUTPUTS = ("recording.jsonl", "sweep.csv", "tags.jsonl", "failure_catalog.md", "capacity.md", "logs")


async def finish_session(
    app: QuanttuiApp, grace_s: float = STOP_GRACE_S, hurry: threading.Event | None = None
) -> None:
    """Stop a session that is still running after the app ended, and await it; cancel it after
    `grace_s`, or at once when `hurry` is set (a hang-up, also one that comes during the wait)."""
    task = app.session_task
    if task is None or task.done():
        return
    with contextlib.suppress(Exception):
        app.handle.send(Stop())
    loop = asyncio.get_running_loop()
    began = loop.time()
    while not task.done() and loop.time() - began < grace_s and not (hurry and hurry.is_set()):
        await asyncio.wait({task}, timeout=0.1)
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def exit_code(app: QuanttuiApp, signalled: bool = False) -> int:
    """0: the session ran (or the operator quit); 130: a signal ended it or it reported an
    interruption; 1: it failed, or the console did (Textual printed its traceback)."""
    if app.session_error is not None:
        return 1
    result: Any = app.session_result
    if signalled or (result is not None and getattr(result, "interrupted", False)):
        return 130
    return 1 if app.return_code else 0  # non-zero: the console itself failed


async def run_console_async(
    session: DrivableSession, out_dir: Path, *, session_thread: bool = True, **options: Any
) -> tuple[int, Any]:
    """Run the app and the session together; returns (exit code, the session's result or None).

    SIGTERM and SIGHUP (a closed terminal or SSH session) stop the session at once (engines get
    `HANGUP_ENGINE_GRACE_S` between TERM and KILL) and end the app like a quit; `HangupGuard`
    handles them outside the event loop and ends the process `HANGUP_DEADLINE_S` after the
    signal whatever is stuck (session/signals.py).
    """
    app = QuanttuiApp(SessionHandle(session, own_thread=session_thread), out_dir, **options)
    loop = asyncio.get_running_loop()

    def on_signal(_signum: int) -> None:  # on the guard's watchdog thread: hand off, never wait
        with contextlib.suppress(Exception):
            app.handle.send(Stop(engine_grace_s=HANGUP_ENGINE_GRACE_S))
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(app.exit)

    with HangupGuard(on_signal) as guard, responsive_switching():
        try:
            await app.run_async()
        finally:
            await finish_session(app, STOP_GRACE_S, guard.heard)
    tell(outputs_line(app, out_dir))
    if app.session_error is not None:
        tell(f"quanttui: session failed: {app.session_error}")
    return exit_code(app, bool(guard.signalled)), app.session_result


def tell(line: str | None) -> None:
    """One line on stderr; the terminal may be gone (a hang-up), which is not an error."""
    if line:
        with contextlib.suppress(OSError, ValueError):
            print(line, file=sys.stderr, flush=True)


def outputs_line(app: QuanttuiApp, out_dir: Path) -> str | None:
    """Where the run's files are: the recording, sweep.csv, the tag journal, logs, and what the
    operator exported from the console (catalog, report, summary)."""
    recording = app.info.recording
    if app.mode == "live" and recording is not None:
        folder = recording.parent
        names = [n for n in RUN_OUTPUTS if (folder / n).exists()]
        names += [p.name for p in app.written if p.parent == folder and p.name not in names]
        if not names:
            return None
        others = [str(p) for p in app.written if p.parent != folder]
        return f"quanttui: outputs in {folder}/: " + ", ".join(names + others)
    parts = [f"replayed {recording}"] if recording is not None else []
    if recording is not None and app.info.journal is not None and app.info.journal.exists():
        parts.append(f"tags in {app.info.journal}")
    if app.written:
        parts.append("wrote " + ", ".join(str(p) for p in app.written))
    return "quanttui: " + "; ".join(parts) if parts else None


def run_console(session: DrivableSession, out_dir: Path, **options: Any) -> int:
    """Blocking entry for the CLI: the console until the operator quits, then the exit code."""
    code, _ = asyncio.run(run_console_async(session, out_dir, **options))
    return code
