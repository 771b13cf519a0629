"""Engine launcher: starts each variant's server, follows its start-up, stops it on every exit.

Variants start one after the other (vLLM's memory profiling breaks when two start at once on one
GPU): the next starts when the previous answers its health route (vLLM's GET /health; the model
list for llama-cpp-python's server, which has none) with 200, or has failed. Each engine
runs in its own process group; its log lines become LogLine events, start-up phases become
InstanceState events, and the KV capacity it reports becomes an EngineCapacity event.
Stopping sends SIGTERM to the group, then SIGKILL after the grace period. A reaper process
(quanttui.io.reaper) does the same if quanttui dies without stopping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import psutil

from quanttui.core.clock import SessionClock
from quanttui.core.engine_log import KvCapacity, Phase, later, merge_kv, read_line
from quanttui.core.events import EngineCapacity, Event, InstanceState, LogLine
from quanttui.core.gpu_fit import check_fractions
from quanttui.core.literal import visible_controls
from quanttui.core.secrets import Secrets
from quanttui.io.config import VariantConfig, redact_argv
from quanttui.io.nvml import gpu_memory
from quanttui.io.reaper import ReaperHandle
from quanttui.io.vllm_methods import unknown_quantization

TAIL_LINES = 12
HEALTH_POLL_S = 0.5
LOG_LINE_LIMIT = 1 << 20


class EngineStartError(Exception):
    """An engine that did not become ready; the message quotes the cause and its last log lines."""


def log_path(log_dir: os.PathLike[str], variant: str) -> str:
    """logs/<variant>.log, refused if the name would lead anywhere else (names are checked when
    the config is read; this holds even for a name that was not)."""
    folder = os.path.realpath(log_dir)
    path = os.path.realpath(os.path.join(folder, f"{variant}.log"))
    if os.path.dirname(path) != folder:
        raise ValueError(f"variant name {variant!r} would write its log outside {folder}")
    return path


def port_in_use(host: str, port: int) -> bool:
    """Something already listens there: a bind fails, or (a listener that lets others bind too,
    SO_REUSEPORT, or one on another address of the same port) a connection is accepted."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host if host not in ("", "0.0.0.0") else "0.0.0.0", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
    target = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((target, port)) == 0


@dataclass
class Engine:
    """One launched engine and what its log has told us so far."""

    config: VariantConfig
    process: asyncio.subprocess.Process | None = None
    phase: Phase = Phase.LAUNCHING
    failure: str | None = None
    kv: KvCapacity | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    started_at: float | None = None
    ready_after_s: float | None = None
    stopping: bool = False
    _reader: asyncio.Task[None] | None = None
    _watcher: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def pids(self) -> tuple[int, ...]:
        """The engine's whole process tree (API server, engine core, workers) for GPU attribution."""
        if self.pid is None:
            return ()
        try:
            root = psutil.Process(self.pid)
            return (self.pid, *(child.pid for child in root.children(recursive=True)))
        except psutil.Error:
            return (self.pid,)

    def reason(self, headline: str) -> str:
        quoted = " | ".join(line.strip() for line in list(self.tail)[-4:] if line.strip())
        return f"{headline}; last log lines: {quoted}" if quoted else headline


class Launcher:
    def __init__(
        self,
        publish: Callable[[Event], None],
        clock: SessionClock,
        log_dir: os.PathLike[str] | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        """`secrets` are masked in the engines' log files and failure messages (the session's
        stream masks them in events)."""
        self.publish = publish
        self.clock = clock
        self.secrets = secrets or Secrets()
        self.engines: dict[str, Engine] = {}
        self.log_dir = log_dir
        self._reaper: ReaperHandle | None = None
        self.grace_cap_s: float | None = None  # a hang-up shortens every engine's grace to this

    def _state(self, engine: Engine, phase: Phase, detail: str = "") -> None:
        engine.phase = phase
        self.publish(
            InstanceState(t=self.clock.now(), variant=engine.config.name, state=str(phase), detail=detail)
        )

    async def start_all(self, variants: list[VariantConfig]) -> dict[str, Engine]:
        """Start the variants one after the other; a failed one is reported and the rest go on.

        On a GPU box, variants whose memory fractions cannot all fit fail before any starts."""
        for variant in variants:
            engine = Engine(variant)
            self.engines[variant.name] = engine
            self._state(engine, Phase.LAUNCHING, " ".join(redact_argv(variant.argv())))
        misfit = self._memory_misfit(variants)
        if misfit:
            for variant in variants:
                self.engines[variant.name].failure = "memory fractions do not fit"
                self._state(self.engines[variant.name], Phase.FAILED, misfit)
            return self.engines
        unknown = await asyncio.to_thread(unknown_quantization, variants)
        for variant in variants:
            if variant.name in unknown:
                self.engines[variant.name].failure = "unknown quantization"
                self._state(self.engines[variant.name], Phase.FAILED, unknown[variant.name])
                continue
            with contextlib.suppress(EngineStartError):
                await self.start(self.engines[variant.name])
        return self.engines

    @staticmethod
    def _memory_misfit(variants: list[VariantConfig]) -> str | None:
        fractions = {
            v.name: v.gpu_memory_utilization for v in variants if v.gpu_memory_utilization is not None
        }
        if not fractions:
            return None
        memory = gpu_memory()
        return check_fractions(fractions, *memory) if memory else None

    async def restart(self, name: str) -> Engine:
        """Start a failed or stopped engine again, in a fresh Engine (same configuration, new log
        state); raises EngineStartError like start()."""
        old = self.engines[name]
        if old.process is not None and old.process.returncode is None:
            await self.stop(old)
        engine = Engine(old.config)
        self.engines[name] = engine
        self._state(engine, Phase.LAUNCHING, "restart")
        await self.start(engine)
        return engine

    async def start(self, engine: Engine) -> None:
        variant = engine.config
        if port_in_use(variant.host, variant.port):
            engine.failure = "port in use"
            detail = f"port in use: {variant.host}:{variant.port} is already bound (checked before launch)"
            self._state(engine, Phase.FAILED, detail)
            raise EngineStartError(detail)
        if self._reaper is None:
            self._reaper = ReaperHandle(grace_s=variant.stop_grace_s)
        # An empty value in the variant's env removes that variable from the engine's environment.
        argv, secret_env = variant.launch_command()  # an API key goes by environment where it can
        wanted = {**variant.env, **secret_env}
        env = {k: v for k, v in {**os.environ, **wanted}.items() if v != "" or k not in wanted}
        try:
            engine.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
                limit=LOG_LINE_LIMIT,
            )
        except OSError as exc:
            detail = self.secrets.scrub(f"cannot run {argv[0]!r}: {exc.strerror}")
            engine.failure = "launch failed"
            self._state(engine, Phase.FAILED, detail)
            raise EngineStartError(detail) from None
        self._reaper.add(engine.process.pid)  # start_new_session: its pgid is its pid
        engine.started_at = time.monotonic()
        engine._reader = asyncio.create_task(self._read_log(engine))
        await self._wait_ready(engine)

    async def _read_log(self, engine: Engine) -> None:
        assert engine.process and engine.process.stdout
        name = engine.config.name
        log_file = None
        if self.log_dir is not None:
            os.makedirs(self.log_dir, exist_ok=True)
            log_file = open(log_path(self.log_dir, name), "a", encoding="utf-8")  # noqa: SIM115
        try:
            while True:
                try:
                    raw = await engine.process.stdout.readline()
                except ValueError:  # a line over the stream limit: asyncio dropped it, go on
                    raw = b"[quanttui: an over-long log line was skipped]\n"
                if not raw:
                    return
                line = self.secrets.scrub(raw.decode("utf-8", "replace").rstrip("\r\n"))
                if log_file:
                    log_file.write(visible_controls(line) + "\n")  # safe to cat
                    log_file.flush()
                engine.tail.append(line)
                self.publish(LogLine(t=self.clock.now(), variant=name, line=line))
                self._follow(engine, line)
        finally:
            if log_file:
                log_file.close()

    def _follow(self, engine: Engine, line: str) -> None:
        facts = read_line(line)
        if facts.failure and engine.failure is None:
            engine.failure = facts.failure
        if facts.kv:
            engine.kv = merge_kv(engine.kv, facts.kv)
            self.publish(
                EngineCapacity(
                    t=self.clock.now(),
                    variant=engine.config.name,
                    kv_cache_tokens=engine.kv.tokens,
                    tokens_per_request=engine.kv.tokens_per_request,
                    max_concurrency=engine.kv.max_concurrency,
                )
            )
        if (
            facts.phase
            and engine.phase not in (Phase.READY, Phase.FAILED)
            and later(engine.phase, facts.phase)
        ):
            self._state(engine, facts.phase)

    async def _wait_ready(self, engine: Engine) -> None:
        assert engine.process is not None
        variant = engine.config
        deadline = time.monotonic() + variant.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while True:
                if engine.process.returncode is not None:
                    await self._drain_log(engine)
                    cause = engine.failure or f"exited with code {engine.process.returncode}"
                    self._fail(
                        engine,
                        engine.reason(f"{cause} (exited during start-up, code {engine.process.returncode})"),
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"{variant.url}{variant.health_path}")
                    if response.status_code == 200:
                        engine.ready_after_s = time.monotonic() - (engine.started_at or time.monotonic())
                        self._state(
                            engine,
                            Phase.READY,
                            f"ready in {engine.ready_after_s:.1f} s, pids {list(engine.pids())}",
                        )
                        engine._watcher = asyncio.create_task(self._watch(engine))
                        return
                if time.monotonic() > deadline:
                    detail = engine.reason(f"start-up timeout after {variant.startup_timeout_s:g} s")
                    engine.failure = engine.failure or "start-up timeout"
                    self._state(engine, Phase.FAILED, detail)
                    await self.stop(engine)
                    raise EngineStartError(f"{variant.name}: {detail}")
                await asyncio.sleep(HEALTH_POLL_S)

    async def _watch(self, engine: Engine) -> None:
        """An engine that exits while serving is a failure the console must show at once; the rest
        of its process group (an orphaned engine core still holding memory) is stopped too."""
        assert engine.process is not None
        code = await _exit_code(engine.process)
        if not engine.stopping:
            cause = engine.failure or (
                f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            )
            engine.failure = cause
            self._state(engine, Phase.FAILED, engine.reason(f"{cause} while serving"))
            await _stop_group(engine.process.pid, self._grace(engine))

    async def _drain_log(self, engine: Engine) -> None:
        if engine._reader:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(engine._reader), 5.0)

    def _fail(self, engine: Engine, detail: str) -> None:
        engine.failure = engine.failure or "failed"
        self._state(engine, Phase.FAILED, detail)
        raise EngineStartError(f"{engine.config.name}: {detail}")

    def _grace(self, engine: Engine) -> float:
        """The engine's TERM-to-KILL grace, shortened by `grace_cap_s` (set on a hang-up)."""
        grace = engine.config.stop_grace_s
        return grace if self.grace_cap_s is None else min(grace, self.grace_cap_s)

    async def stop(self, engine: Engine) -> None:
        """SIGTERM to the engine's process group, SIGKILL after its grace period."""
        process = engine.process
        if process is None:
            return
        engine.stopping = True
        if engine._watcher:
            engine._watcher.cancel()
        await _stop_group(process.pid, self._grace(engine))
        await _exit_code(process)
        if self._reaper:
            self._reaper.remove(process.pid)
        if engine._reader:
            await self._drain_log(engine)
        if engine.phase != Phase.FAILED:
            self._state(engine, Phase.STOPPED, f"exit code {process.returncode}")

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(e) for e in self.engines.values()), return_exceptions=True)
        if self._reaper:
            self._reaper.close()
            self._reaper = None


async def _exit_code(process: asyncio.subprocess.Process) -> int:
    """The exit code as soon as the process exits.

    Process.wait() in Python 3.11 also waits for its pipes to close, and an engine's children keep
    its stdout open after it dies, so the return code is polled instead.
    """
    while process.returncode is None:
        await asyncio.sleep(0.05)
    return process.returncode


def _group_alive(pgid: int) -> bool:
    """True while a process of the group is still running (zombies, which hold no memory, do not count:
    an orphaned engine core is reaped by PID 1, which in some containers never reaps)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


async def _stop_group(pgid: int, grace_s: float) -> None:
    """SIGTERM the whole group, SIGKILL what is left after the grace period, wait until it is gone."""
    if not _group_alive(pgid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        while _group_alive(pgid) and time.monotonic() < deadline + 5:
            await asyncio.sleep(0.05)
