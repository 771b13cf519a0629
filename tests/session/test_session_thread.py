"""A session on its own thread: commands reach it there, cancelling waits for its clean-up."""

import asyncio
import concurrent.futures
import threading

import pytest
from waiting import wait_until_async

from quanttui.session.thread import SessionThread


class Session:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.thread: threading.Thread | None = None
        self.calls: list[tuple[str, threading.Thread]] = []
        self.cleaned_up = False

    async def run(self) -> str:
        self.thread = threading.current_thread()
        self._stop = asyncio.Event()
        try:
            if self.fail:
                raise ValueError("engine failed to start")
            await self._stop.wait()
            return "finished"
        finally:
            # stopping engines takes a while: a slow clean-up is what the cancel test is about
            await asyncio.sleep(0.2)
            self.cleaned_up = True

    def stop(self) -> None:
        self.calls.append(("stop", threading.current_thread()))
        self._stop.set()


async def test_the_session_runs_on_its_own_thread_and_commands_follow_it():
    session = Session()
    runner = SessionThread(session)
    task = asyncio.create_task(runner.run())
    await wait_until_async(lambda: session.thread is not None, what="the session to start")
    assert session.thread is not threading.current_thread()
    assert runner.schedule(lambda: threading.current_thread()).result(5) is session.thread
    runner.schedule(session.stop)
    assert await asyncio.wait_for(task, 5) == "finished"
    assert session.calls == [("stop", session.thread)] and session.cleaned_up
    runner.join(5)
    runner.schedule(session.stop).result(5)  # after the end: runs here, harmlessly
    assert session.calls[-1][1] is threading.current_thread()


async def test_cancelling_waits_for_the_clean_up_then_cancels():
    session = Session()
    runner = SessionThread(session)
    task = asyncio.create_task(runner.run())
    await wait_until_async(lambda: session.thread is not None, what="the session to start")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.cleaned_up  # the engines were stopped before the caller heard of it


async def test_a_failing_session_raises_in_the_caller():
    runner = SessionThread(Session(fail=True))
    with pytest.raises(ValueError, match="engine failed"):
        await asyncio.wait_for(runner.run(), 5)


async def test_a_job_that_finishes_on_another_thread_leaves_the_loop_free():
    """report.html is drawn off the session's loop: the job's future settles when the drawing is
    done, and the loop serves other calls meanwhile (session/jobs.py, thread.settle)."""
    session = Session()
    runner = SessionThread(session)
    task = asyncio.create_task(runner.run())
    await wait_until_async(lambda: session.thread is not None, what="the session to start")
    gate = threading.Event()
    drawing: concurrent.futures.Future[list[str]] = concurrent.futures.Future()

    def job() -> concurrent.futures.Future[list[str]]:
        threading.Thread(target=lambda: (gate.wait(5), drawing.set_result(["report.html"]))).start()
        return drawing

    outer = runner.schedule(job)
    assert runner.schedule(lambda: "served").result(5) == "served"  # the loop is not held
    assert not outer.done()
    gate.set()
    assert outer.result(5) == ["report.html"]
    failed: concurrent.futures.Future[list[str]] = concurrent.futures.Future()
    failed.set_exception(ValueError("no theme called 'x'"))
    with pytest.raises(ValueError, match="no theme"):
        runner.schedule(lambda: failed).result(5)
    runner.schedule(session.stop)
    assert await asyncio.wait_for(task, 5) == "finished"
