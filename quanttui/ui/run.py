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
from pathlib import Path
from typing import Any

from quanttui.session.commands import Stop
from quanttui.session.handle import DrivableSession, SessionHandle
from quanttui.session.signals import on_stop_signals
from quanttui.session.thread import responsive_switching
from quanttui.ui.app import QuanttuiApp

STOP_GRACE_S = 60.0


async def finish_session(app: QuanttuiApp, grace_s: float = STOP_GRACE_S) -> None:
    """Stop a session that is still running after the app ended, and await it."""
    task = app.session_task
    if task is None or task.done():
        return
    with contextlib.suppress(Exception):
        app.handle.send(Stop())
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), grace_s)
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def exit_code(app: QuanttuiApp, signalled: bool = False) -> int:
    """0: the session ran (or the operator quit); 130: a signal ended it or it reported an
    interruption; 1: it failed."""
    if app.session_error is not None:
        return 1
    result: Any = app.session_result
    if signalled or (result is not None and getattr(result, "interrupted", False)):
        return 130
    return 0


async def run_console_async(
    session: DrivableSession, out_dir: Path, *, session_thread: bool = True, **options: Any
) -> tuple[int, Any]:
    """Run the app and the session together; returns (exit code, the session's result or None).

    SIGTERM and SIGHUP (a closed terminal or SSH session) end the app like a quit, so the session
    is stopped and awaited and its engines stop before the process exits.
    """
    app = QuanttuiApp(SessionHandle(session, own_thread=session_thread), out_dir, **options)
    signalled: list[int] = []

    def on_signal(signum: int) -> None:
        signalled.append(signum)
        app.exit()

    with on_stop_signals(on_signal), responsive_switching():
        try:
            await app.run_async()
        finally:
            await finish_session(app)
    if app.session_error is not None:
        print(f"quanttui: session failed: {app.session_error}", file=sys.stderr)
    return exit_code(app, bool(signalled)), app.session_result


def run_console(session: DrivableSession, out_dir: Path, **options: Any) -> int:
    """Blocking entry for the CLI: the console until the operator quits, then the exit code."""
    code, _ = asyncio.run(run_console_async(session, out_dir, **options))
    return code
