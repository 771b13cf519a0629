"""A driver's hold on a session: typed commands and jobs in, events out, nothing else.

The console never reads a session's attributes while it runs: it learns the session's fixed
facts once (`info`, before the session starts), subscribes to its stream, and sends typed
commands (session/commands.py) that the session applies on its own loop. With `own_thread` (the
console's default) the session runs on its own thread and event loop (session/thread.py) so
drawing never delays a measurement; without, on the caller's loop (tests that want one loop).
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any, Protocol

from quanttui.core.stream import Policy, SessionStream, Subscription
from quanttui.session.commands import Command, Job
from quanttui.session.spec import SessionInfo
from quanttui.session.thread import SessionThread, settle


class DrivableSession(Protocol):
    """What LiveSession and ReplaySession both are to a driver."""

    stream: SessionStream

    @property
    def info(self) -> SessionInfo: ...

    def handle(self, command: Command) -> None: ...

    def run_job(self, job: Job) -> list[Path] | concurrent.futures.Future[list[Path]]: ...

    async def run(self) -> Any: ...


class SessionHandle:
    def __init__(self, session: DrivableSession, *, own_thread: bool = True) -> None:
        self.info = session.info
        self._session = session
        self._stream = session.stream
        self._thread = SessionThread(session) if own_thread else None

    def subscribe(self, name: str, policy: Policy = "drop", maxsize: int = 50_000) -> Subscription:
        """Before `run()`, so nothing the session publishes from its start is missed."""
        return self._stream.subscribe(name, policy=policy, maxsize=maxsize)

    async def run(self) -> Any:
        """Run the session (on its own thread when it has one) and return its result."""
        if self._thread is not None:
            return await self._thread.run()
        return await self._session.run()

    def send(self, command: Command) -> concurrent.futures.Future[None]:
        """Apply a command on the session's loop; the future says when it was applied (or why not)."""
        return self._schedule(lambda: self._session.handle(command))

    def job(self, job: Job) -> concurrent.futures.Future[list[Path]]:
        """Run a file job on the session's side; the future holds the paths written (or the error)."""
        return self._schedule(lambda: self._session.run_job(job))

    @property
    def own_thread(self) -> bool:
        return self._thread is not None

    def spawn(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Run a coroutine on the session's loop beside it (a bench's probe); own thread only."""
        if self._thread is None:
            raise RuntimeError("the session runs on the caller's loop")
        return self._thread.spawn(coro)

    def _schedule(self, fn: Any) -> concurrent.futures.Future[Any]:
        if self._thread is not None:
            return self._thread.schedule(fn)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            settle(future, fn())
        except Exception as exc:
            future.set_exception(exc)
        return future
