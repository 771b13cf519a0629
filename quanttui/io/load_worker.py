"""A load worker process: `python -m quanttui.io.load_worker`, started by io/load_pool.py.

It does nothing but the request path: it opens the session's endpoints, sends each request it is
given, stamps the stream's chunks and sends the outcome back; once a second it sends its probe's
window (loop lag, CPU, chunks read and coalesced). The fold, the recorder, the scrapers and the
console stay in the session's process, so their work (and the GIL they hold) never delays a stamp.
It runs on uvloop where installed (QUANTTUI_EVENT_LOOP=asyncio to compare), asks Linux for a short
scheduler slice (io/cpu_priority.py), and exits when the session closes its stdin, or dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import time
from typing import Any

from quanttui.core.events import ErrorClass
from quanttui.io.cpu_priority import SHORT_SLICE_NS, request_short_slice
from quanttui.io.load_wire import Done, OpenEndpoint, Ready, Sample, Send, frame, read_frame
from quanttui.io.loop_probe import LoopProbe
from quanttui.io.openai_client import OpenAIStreamClient
from quanttui.io.stream_outcome import ReadStats, StreamOutcome

SAMPLE_S = 1.0


class Worker:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.stats = ReadStats()
        self.clients: dict[str, OpenAIStreamClient] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.retired: list[OpenAIStreamClient] = []  # closing aiohttp's session would cut its streams
        self._outbox: list[bytes] = []

    def send(self, message: Any) -> None:
        """Queued and written once per turn of the loop: streams that end together cost one
        write (and one wake-up of the session) instead of one each."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(frame(message))

    def _flush(self) -> None:
        frames, self._outbox = self._outbox, []
        self.writer.write(b"".join(frames))

    def open(self, spec: OpenEndpoint) -> None:
        old = self.clients.get(spec.key)
        self.clients[spec.key] = OpenAIStreamClient(
            spec.root, "", spec.api_key, spec.concurrency, spec.timeouts, stats=self.stats
        )
        if old is not None:  # grown: requests in flight finish on the old one, closed at the end
            self.retired.append(old)

    def request(self, message: Send) -> None:
        self._spawn(self._one(message))

    async def _one(self, message: Send) -> None:
        try:
            client = self.clients[message.key]
            outcome = await client.stream_chat(message.messages, message.options, message.model)
        except Exception as exc:  # a bug here must fail one request, not leave the session waiting
            now = time.perf_counter_ns()
            detail = f"load worker: {type(exc).__name__}: {exc}"[:200]
            outcome = StreamOutcome(False, now, now, ErrorClass.CLIENT_FAILED, error_detail=detail)
        self.send(Done(message.request_id, outcome))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def sample_every(self, probe: LoopProbe) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            self.send(Sample(probe.window()))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        clients = [*self.clients.values(), *self.retired]
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


async def serve(read_fd: int, write_fd: int, event_loop: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    worker = Worker(writer)
    probe = LoopProbe(worker.stats)
    probe.start()
    sampling = loop.create_task(worker.sample_every(probe))
    worker.send(Ready(os.getpid(), event_loop))
    try:
        while (message := await read_frame(reader)) is not None:
            if isinstance(message, Send):
                worker.request(message)
            elif isinstance(message, OpenEndpoint):
                worker.open(message)
    finally:
        sampling.cancel()
        await probe.stop()
        await worker.close()


def main() -> int:
    # The pipe to the session is stdout's descriptor; stdout itself goes to stderr, so a stray
    # print can never corrupt a frame.
    read_fd, write_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    # What is alive now (modules, the wire) lives as long as the process: the collector need
    # not walk it again on every full pass (those passes stalled the loop 8-14 ms at 256 streams).
    gc.collect()
    gc.freeze()
    runner, name = asyncio.run, "asyncio"
    if os.environ.get("QUANTTUI_EVENT_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop

            runner, name = uvloop.run, "uvloop"
        except ImportError:
            pass
    # A short slice: woken by a chunk, the worker preempts the session's work on a shared core
    # (QUANTTUI_WORKER_SLICE=kernel keeps the kernel's default, to compare).
    if os.environ.get("QUANTTUI_WORKER_SLICE") != "kernel" and request_short_slice() is None:
        name += f", {SHORT_SLICE_NS / 1e6:g} ms slice"
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        runner(serve(read_fd, write_fd, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
