"""A session on its own thread and event loop, so drawing the console never delays a measurement.

With the console and the load generator on one event loop, every frame the UI draws (10-30 ms of
Python) is time in which no stream chunk is read: measured TTFT and ITL grow by the UI's work
(bench/tui_cost.py measured 29 ms p99 loop lag). On its own thread the session's loop waits at
most one GIL switch interval for the UI (shortened to 1 ms while the console runs), not a
whole frame.

The session object is built on the caller's thread and then used only from its own thread:
work goes through `schedule()` (queued onto the session's loop; the caller gets a future and
never blocks, and may wait on it). The caller awaits `run()` like
the session's own run(): cancelling it cancels the session on its thread and waits until the
session has finished cleaning up (engines stopped), then re-raises the cancellation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# How long the UI's thread may hold the GIL before the session's thread gets a turn. Python's
# default is 5 ms; 1 ms cut the session loop's lag p99 from 15 to 4.4 ms in bench/tui_cost.py
# for about 10 % more CPU.
SWITCH_INTERVAL_S = 0.001


@contextlib.contextmanager
def responsive_switching(interval_s: float = SWITCH_INTERVAL_S) -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval_s)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class RunnableSession(Protocol):
    async def run(self) -> Any: ...


class SessionThread:
    def __init__(self, session: RunnableSession, name: str = "quanttui-session") -> None:
        self.session = session
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._ready = threading.Event()
        self._done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------
    async def run(self) -> Any:
        """Start the session's thread and wait for its result (or its exception)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=self.name, daemon=False)
            self._thread.start()
        done = asyncio.wrap_future(self._done)
        try:
            await asyncio.wait({done})  # cancelling this wait leaves the session running
        except asyncio.CancelledError:
            self.cancel()
            # The session stops its engines when cancelled: wait for that before giving up.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({done})
            if done.done() and not done.cancelled():
                done.exception()  # retrieved: the cancellation is what the caller hears about
            raise
        if done.cancelled():
            raise asyncio.CancelledError
        return done.result()

    def _main(self) -> None:
        try:
            result = asyncio.run(self._serve())
        except asyncio.CancelledError:
            self._done.cancel()
        except BaseException as exc:  # handed to the awaiting side, which decides what it means
            if not self._done.done():
                self._done.set_exception(exc)
        else:
            if not self._done.done():
                self._done.set_result(result)
        finally:
            self._ready.set()

    async def _serve(self) -> Any:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._ready.set()
        return await self.session.run()

    def cancel(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(task.cancel)

    @property
    def done(self) -> bool:
        return self._done.done()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # -- commands ------------------------------------------------------------------------------
    def schedule(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """fn() on the session's loop soon (directly when the session is not running); its result
        or exception in the future returned."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                settle(future, fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop = self._running_loop()
        if loop is None or threading.current_thread() is self._thread:
            run()
            return future
        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop closed meanwhile
            run()
        return future

    def spawn(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Run a coroutine on the session's loop beside the session (a probe, a bench)."""
        loop = self._running_loop()
        if loop is None:
            raise RuntimeError("the session is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        if self._thread is None or self._done.done():
            return None
        self._ready.wait(5.0)
        loop = self._loop
        return loop if loop is not None and not loop.is_closed() else None


def settle(future: concurrent.futures.Future[Any], result: Any) -> None:
    """`result` into `future`; a result that is itself a future (a job finishing on another
    thread) settles it when that one is done."""
    if not isinstance(result, concurrent.futures.Future):
        future.set_result(result)
        return

    def done(inner: concurrent.futures.Future[Any]) -> None:
        if inner.exception() is not None:
            future.set_exception(inner.exception())
        else:
            future.set_result(inner.result())

    result.add_done_callback(done)
