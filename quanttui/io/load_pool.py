"""Load worker processes seen from the session: requests go out, timed outcomes come back.

`LoadPool` starts N `python -m quanttui.io.load_worker` children in their own process group, so a
terminal's Ctrl-C or hang-up reaches the session, which stops them in order (not in their own
session: that is another autogroup, where the session giving way to them would count for nothing),
and hands out one `PooledClient` per endpoint, with the same `stream_chat` as
`OpenAIStreamClient`. A request goes to the worker with the fewest requests in flight. Each
worker's probe window comes back once a second through `on_sample`. A worker that dies fails its
requests in flight as `client_failed` and gets no more; when none is left every request fails that
way (the session goes on and says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from quanttui.core.events import ErrorClass
from quanttui.io.cpu_priority import yield_to_workers
from quanttui.io.load_wire import Done, OpenEndpoint, Ready, Sample, Send, frame, read_frame
from quanttui.io.loop_probe import ProbeWindow
from quanttui.io.openai_client import RequestOptions, Timeouts, split_base_url
from quanttui.io.stream_outcome import StreamOutcome

START_TIMEOUT_S = 30.0


class LoadWorkerError(Exception):
    """The load workers could not be started; one-line message."""


def default_workers(max_concurrency: int) -> int:
    """One process per 256 streams, at most one per core: measured in bench/vs_peers.py."""
    return max(1, min(os.cpu_count() or 1, -(-max_concurrency // 256)))


class _WorkerProcess:
    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.pending: dict[int, asyncio.Future[StreamOutcome]] = {}
        self.alive = True
        self.event_loop = "?"
        self.reading: asyncio.Task[None] | None = None
        self.outbox: list[bytes] = []

    def send(self, message: object) -> None:
        """Queued and written once per turn of the loop (as the worker answers): the sends of
        users whose requests ended together cost one write and one wake-up of the worker."""
        if not self.outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outbox.append(frame(message))

    def _flush(self) -> None:
        frames, self.outbox = self.outbox, []
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            return  # gone: its reader fails what it had in flight
        with contextlib.suppress(ConnectionError, RuntimeError):
            stdin.write(b"".join(frames))


class LoadPool:
    def __init__(
        self,
        workers: int,
        on_sample: Callable[[str, ProbeWindow], None],
        log_path: Path | None = None,
    ) -> None:
        self.size = max(1, workers)
        self.on_sample = on_sample
        self.log_path = log_path
        self.workers: list[_WorkerProcess] = []
        self._restore_priority: Callable[[], str | None] | None = None  # see start()
        self._endpoints: dict[str, OpenEndpoint] = {}
        self._ids = itertools.count()
        self._log: IO[bytes] | None = None
        self._made_dir = False

    async def start(self) -> None:
        stderr: int | IO[bytes] = asyncio.subprocess.DEVNULL
        if self.log_path is not None:
            self._made_dir = not self.log_path.parent.exists()
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
            stderr = self._log
        try:
            for number in range(1, self.size + 1):
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "quanttui.io.load_worker",
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
                    process_group=0, limit=2**26,
                )  # fmt: skip
                worker = _WorkerProcess(f"load worker {number}", process)
                self.workers.append(worker)
                assert process.stdout is not None
                ready = await asyncio.wait_for(read_frame(process.stdout), START_TIMEOUT_S)
                if not isinstance(ready, Ready):
                    raise LoadWorkerError(
                        f"{worker.name} did not start (see {self.log_path or 'its stderr'})"
                    )
                worker.event_loop = ready.event_loop
                worker.reading = asyncio.get_running_loop().create_task(self._read(worker))
            # From here this thread (the session's loop) gives way to the workers on a shared core,
            # until aclose (QUANTTUI_SESSION_YIELD=0 leaves it as it is, to compare).
            if os.environ.get("QUANTTUI_SESSION_YIELD") != "0":
                self._restore_priority = yield_to_workers()
        except (OSError, TimeoutError) as exc:
            await self.aclose()
            raise LoadWorkerError(f"load worker could not start: {exc or type(exc).__name__}") from None
        except BaseException:
            await self.aclose()
            raise

    @property
    def event_loop(self) -> str:
        return ", ".join(sorted({w.event_loop for w in self.workers})) or "?"

    @property
    def session_yields(self) -> bool:
        """The session's thread gives way to the workers (SCHED_BATCH, long slice) while they run."""
        return self._restore_priority is not None

    async def _read(self, worker: _WorkerProcess) -> None:
        assert worker.process.stdout is not None
        try:
            while (message := await read_frame(worker.process.stdout)) is not None:
                if isinstance(message, Done):
                    future = worker.pending.pop(message.request_id, None)
                    if future is not None and not future.done():
                        future.set_result(message.outcome)
                elif isinstance(message, Sample):
                    self.on_sample(worker.name, message.window)
        finally:
            worker.alive = False
            for future in worker.pending.values():
                if not future.done():
                    future.set_result(failed_outcome(f"{worker.name} exited mid-request"))
            worker.pending.clear()

    def open(self, key: str, root: str, api_key: str | None, concurrency: int, timeouts: Timeouts) -> None:
        spec = OpenEndpoint(key, root, api_key, concurrency, timeouts)
        self._endpoints[key] = spec
        for worker in self.workers:
            if worker.alive:
                worker.send(spec)

    async def stream_chat(
        self, key: str, model: str, messages: list[dict[str, str]], options: RequestOptions
    ) -> StreamOutcome:
        alive = [w for w in self.workers if w.alive]
        if not alive:
            return failed_outcome("no load worker is running")
        worker = min(alive, key=lambda w: len(w.pending))
        request_id = next(self._ids)
        future: asyncio.Future[StreamOutcome] = asyncio.get_running_loop().create_future()
        worker.pending[request_id] = future
        worker.send(Send(request_id, key, model, messages, options))
        return await future

    async def aclose(self) -> None:
        """Close the workers' stdin (they finish and exit), then make sure they are gone."""
        if self._restore_priority is not None:
            self._restore_priority()  # the loop's thread: the one start() changed
            self._restore_priority = None
        for worker in self.workers:
            stdin = worker.process.stdin
            if stdin is not None and not stdin.is_closing():
                stdin.close()
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.process.wait(), 5.0)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            if worker.reading is not None:
                await asyncio.gather(worker.reading, return_exceptions=True)
        if self._log is not None:
            self._log.close()
            self._log = None
            self._tidy_log()

    def _tidy_log(self) -> None:
        """Workers that said nothing leave no empty log (nor a logs folder made only for it)."""
        assert self.log_path is not None
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size == 0:
                self.log_path.unlink()
                if self._made_dir:
                    self.log_path.parent.rmdir()


class RequestPool(Protocol):
    """Where pooled requests run: local worker processes (LoadPool) or Ray actors (io/ray_pool.py)."""

    def open(
        self, key: str, root: str, api_key: str | None, concurrency: int, timeouts: Timeouts
    ) -> None: ...

    async def stream_chat(
        self, key: str, model: str, messages: list[dict[str, str]], options: RequestOptions
    ) -> StreamOutcome: ...


class PooledClient:
    """One endpoint's requests, sent through the pool's workers (as OpenAIStreamClient would)."""

    def __init__(self, pool: RequestPool, key: str, base_url: str, model: str, api_key: str | None,
                 concurrency: int, timeouts: Timeouts) -> None:  # fmt: skip
        self.pool = pool
        self.key = key
        self.root = split_base_url(base_url)
        self.model = model
        self.api_key = api_key
        self.timeouts = timeouts
        pool.open(key, self.root, api_key, concurrency, timeouts)

    def resize(self, concurrency: int) -> None:
        self.pool.open(self.key, self.root, self.api_key, concurrency, self.timeouts)

    async def stream_chat(
        self, messages: list[dict[str, str]], options: RequestOptions, model: str | None = None
    ) -> StreamOutcome:
        return await self.pool.stream_chat(self.key, model or self.model, messages, options)

    async def aclose(self) -> None:
        pass  # the pool owns the workers


def failed_outcome(detail: str) -> StreamOutcome:
    """A request the client could not run (its worker is gone): counted as client_failed."""
    now = time.perf_counter_ns()
    return StreamOutcome(
        ok=False, start_ns=now, end_ns=now, error=ErrorClass.CLIENT_FAILED, error_detail=detail
    )
