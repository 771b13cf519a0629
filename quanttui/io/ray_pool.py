"""Load workers on other hosts: Ray actors instead of local processes (issue 21, optional extra).

One host's cores bound the streams one client can stamp faithfully (bench/vs_peers.py). Past that,
`--ray ADDRESS` runs the load workers as actors of a Ray cluster (the runtime multi-node vLLM
deployments already run) instead of children of the session: `RayLoadPool` has `LoadPool`'s
interface, so `PooledClient`, the runner and the recording are unchanged. Each actor holds its
endpoints' clients and its own probe, answers each request with its `StreamOutcome`, and is asked
for its probe window once a second. Ray ships the calls; nothing of ours crosses the network.

Clocks: an outcome's stamps are the actor's monotonic clock. On the session's host (same boot id)
that is the session's clock; elsewhere the offset is estimated once per actor from the round trip
with the smallest delay (as NTP does), so durations (TTFT, every gap, E2E) are exact and absolute
times are placed within half that round trip. Ray is imported only when asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanttui.io.load_pool import LoadWorkerError, failed_outcome
from quanttui.io.load_wire import OpenEndpoint
from quanttui.io.loop_probe import LoopProbe, ProbeWindow
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, Timeouts
from quanttui.io.stream_outcome import ReadStats, StreamOutcome

SAMPLE_S = 1.0
START_TIMEOUT_S = 120.0
CLOCK_PROBES = 7
MAX_STREAMS_PER_ACTOR = 8192  # Ray's calls in flight per async actor (its default is 1,000)


def boot_id() -> str:
    """Which boot of which machine: processes that share it share CLOCK_MONOTONIC."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return f"{socket.gethostname()}?"


@dataclass(frozen=True)
class ActorFacts:
    host: str
    node: str  # the Ray node it runs on (the first 8 hex digits of its id)
    pid: int
    boot_id: str
    event_loop: str


class LoadActor:
    """The request path inside a Ray actor: clients per endpoint, the probe, nothing else."""

    def __init__(self) -> None:
        self.stats = ReadStats()
        self.clients: dict[str, OpenAIStreamClient] = {}
        self.retired: list[OpenAIStreamClient] = []
        self.probe: LoopProbe | None = None

    async def facts(self) -> ActorFacts:
        if self.probe is None:  # on the actor's own loop
            self.probe = LoopProbe(self.stats)
            self.probe.start()
        import ray  # in the actor's process: Ray is there

        loop = "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
        node = ray.get_runtime_context().get_node_id()[:8]
        return ActorFacts(socket.gethostname(), node, os.getpid(), boot_id(), loop)

    async def clock(self) -> int:
        return time.perf_counter_ns()

    async def open(self, spec: OpenEndpoint) -> None:
        old = self.clients.get(spec.key)
        self.clients[spec.key] = OpenAIStreamClient(
            spec.root, "", spec.api_key, spec.concurrency, spec.timeouts, stats=self.stats
        )
        if old is not None:  # grown: requests in flight finish on the old one
            self.retired.append(old)

    async def stream_chat(
        self, key: str, model: str, messages: list[dict[str, str]], options: RequestOptions
    ) -> StreamOutcome:
        try:
            return await self.clients[key].stream_chat(messages, options, model)
        except Exception as exc:  # a bug here must fail one request, not leave the session waiting
            return failed_outcome(f"ray load worker: {type(exc).__name__}: {exc}"[:200])

    async def window(self) -> ProbeWindow | None:
        return self.probe.window() if self.probe is not None else None

    async def close(self) -> None:
        if self.probe is not None:
            await self.probe.stop()
        clients = [*self.clients.values(), *self.retired]
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


class _Actor:
    def __init__(self, name: str, handle: Any) -> None:
        self.name = name
        self.handle = handle
        self.offset_ns = 0  # session clock - actor clock
        self.pending = 0
        self.alive = True
        self.facts: ActorFacts | None = None


class RayLoadPool:
    """`workers` load actors spread over the Ray cluster at `address` (LoadPool's interface)."""

    def __init__(self, address: str, workers: int, on_sample: Callable[[str, ProbeWindow], None]) -> None:
        self.address = address
        self.size = max(1, workers)
        self.on_sample = on_sample
        self.actors: list[_Actor] = []
        self._ids = itertools.count()
        self._sampling: asyncio.Task[None] | None = None
        self._ray: Any = None

    async def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise LoadWorkerError("--ray needs Ray: pip install 'quanttui[ray]'") from None
        self._ray = ray
        try:
            await self._reachable()
            await asyncio.wait_for(self._in_daemon_thread(self._connect), START_TIMEOUT_S)
            remote = ray.remote(num_cpus=1, max_concurrency=MAX_STREAMS_PER_ACTOR)(LoadActor)
            for number in range(1, self.size + 1):
                handle = remote.options(scheduling_strategy="SPREAD").remote()
                self.actors.append(_Actor(f"ray load worker {number}", handle))
            for actor in self.actors:
                actor.facts = await asyncio.wait_for(actor.handle.facts.remote(), START_TIMEOUT_S)
                actor.name += f" on {actor.facts.host} (node {actor.facts.node})"
                actor.offset_ns = await self._offset(actor)
        except LoadWorkerError:
            await self.aclose()
            raise
        except Exception as exc:  # Ray's own errors: an unreachable cluster, no room for an actor
            await self.aclose()
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise LoadWorkerError(f"Ray load workers could not start at {self.address}: {detail}") from None
        self._sampling = asyncio.get_running_loop().create_task(self._sample_every())

    async def _reachable(self) -> None:
        """A host:port address must accept a connection: Ray itself retries an absent cluster for
        minutes before it says so."""
        host, _, port = self.address.rpartition(":")
        if "://" in self.address or not port.isdigit():
            return  # auto, or Ray Client's ray://: Ray finds it (or says why)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10.0)
        except (OSError, TimeoutError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no answer in 10 s"
            raise LoadWorkerError(f"Ray load workers could not start at {self.address}: {why}") from None
        writer.close()

    @staticmethod
    async def _in_daemon_thread(work: Callable[[], None]) -> None:
        """`ray.init` blocks; run it where a session that gives up on it can still exit."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if not done.done():
                done.set_result(None) if error is None else done.set_exception(error)

        def run() -> None:
            error: BaseException | None = None
            try:
                work()
            except BaseException as exc:  # handed to the session's loop
                error = exc
            loop.call_soon_threadsafe(settle, error)

        threading.Thread(target=run, name="ray-init", daemon=True).start()
        await done

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        logging.getLogger("ray").setLevel(logging.ERROR)  # its warnings would interleave our progress
        ray.init(address=self.address, namespace="quanttui", log_to_driver=False,
                 logging_level="ERROR", configure_logging=False)  # fmt: skip

    async def _offset(self, actor: _Actor) -> int:
        """The session's clock minus the actor's: 0 on this machine, else from the quickest of a
        few round trips (the error is at most half of it)."""
        assert actor.facts is not None
        if actor.facts.boot_id == boot_id():
            return 0
        best: tuple[int, int] | None = None
        for _ in range(CLOCK_PROBES):
            sent = time.perf_counter_ns()
            theirs = await actor.handle.clock.remote()
            back = time.perf_counter_ns()
            if best is None or back - sent < best[0]:
                best = (back - sent, (sent + back) // 2 - theirs)
        assert best is not None
        return best[1]

    @property
    def event_loop(self) -> str:
        loops = sorted({a.facts.event_loop for a in self.actors if a.facts})
        hosts = sorted({a.facts.host for a in self.actors if a.facts})
        return f"Ray at {self.address}: {', '.join(loops) or '?'} on {len(hosts)} host{'s' if len(hosts) != 1 else ''}"

    @property
    def workers(self) -> list[_Actor]:
        return self.actors

    def open(self, key: str, root: str, api_key: str | None, concurrency: int, timeouts: Timeouts) -> None:
        spec = OpenEndpoint(key, root, api_key, concurrency, timeouts)
        for actor in self.actors:
            if actor.alive:
                actor.handle.open.remote(spec)  # the actor runs its calls in order of arrival

    async def stream_chat(
        self, key: str, model: str, messages: list[dict[str, str]], options: RequestOptions
    ) -> StreamOutcome:
        alive = [a for a in self.actors if a.alive]
        if not alive:
            return failed_outcome("no Ray load worker is running")
        actor = min(alive, key=lambda a: a.pending)
        actor.pending += 1
        try:
            outcome: StreamOutcome = await actor.handle.stream_chat.remote(key, model, messages, options)
        except Exception as exc:  # the actor died (its node went away): its requests fail, not the run
            actor.alive = False
            return failed_outcome(f"{actor.name} failed: {type(exc).__name__}")
        finally:
            actor.pending -= 1
        outcome.start_ns += actor.offset_ns
        outcome.end_ns += actor.offset_ns
        return outcome

    async def _sample_every(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            for actor in [a for a in self.actors if a.alive]:
                with contextlib.suppress(Exception):
                    window = await asyncio.wait_for(actor.handle.window.remote(), SAMPLE_S)
                    if window is not None:
                        self.on_sample(actor.name, window)

    async def aclose(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
            await asyncio.gather(self._sampling, return_exceptions=True)
        ray = self._ray
        if ray is None:
            return
        for actor in self.actors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(actor.handle.close.remote(), 5.0)
            with contextlib.suppress(Exception):
                ray.kill(actor.handle)
        self.actors = []
        with contextlib.suppress(Exception):
            await asyncio.to_thread(ray.shutdown)
