"""Run the simulated vLLM server as a real child process (own process group, like an engine).

The child's stdin is a pipe that only we hold: if this process dies without calling stop(), the
child reads EOF and exits, so no orphaned simulator keeps a port open after a crashed test run.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import quanttui
from quanttui.sim.engine import SimConfig

API_KEY_ENV = "QUANTTUI_SIM_API_KEY"
STOP_GRACE_S = 3.0
_LISTENING = re.compile(rb"^LISTENING (\d+)\s*$")


class SimServerError(RuntimeError):
    """The simulator did not come up; the message carries its stderr."""


@dataclass
class SimServer:
    """Handle on a running simulator child process."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    config: SimConfig
    _stderr: IO[bytes] = field(repr=False)
    _stopped: bool = field(default=False, repr=False)
    _stderr_at_stop: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_text(self) -> str:
        """What the child wrote to stderr (tracebacks, warnings), also after stop()."""
        if self._stopped:
            return self._stderr_at_stop
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 3 s; safe to call twice. Returns the exit code."""
        if not self._stopped:
            _terminate(self.process)
            self._stderr_at_stop = self.stderr_text()
            self._stopped = True
            self._stderr.close()
        return self.process.returncode

    def __enter__(self) -> SimServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, SIGKILL after the grace period, then close our ends of its pipes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def start_sim_server(
    model: str = "sim",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    cpus: set[int] | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 10.0,
    **config: Any,
) -> SimServer:
    """Spawn `python -m quanttui.sim.server` with SimConfig fields as keywords (ttft_ms=..., fault=...)
    and wait for its LISTENING line. The API key comes as `api_key=` or from the variable named by
    `api_key_env` (read now); it reaches the child through its environment, never its argv.
    `cpus` pins the child (benchmarks keep it off the client's cores); `port` 0: any free one."""
    if api_key_env is not None:
        if not os.environ.get(api_key_env):
            raise SimServerError(f"environment variable {api_key_env} is not set")
        config["api_key"] = os.environ[api_key_env]
    sim_config = SimConfig(model=model, **config)  # a misspelt keyword fails here, not in the child
    argv = [
        sys.executable,
        "-m",
        "quanttui.sim.server",
        "--host",
        host,
        "--port",
        str(port),
        "--exit-on-stdin-eof",
    ]
    argv += sim_config.to_argv()
    env = dict(os.environ)
    package_root = str(Path(quanttui.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if sim_config.api_key:
        env[API_KEY_ENV] = sim_config.api_key
        argv += ["--api-key-env", API_KEY_ENV]
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call; SimServer.stop() closes it
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, start_new_session=True
    )
    try:
        if cpus:
            os.sched_setaffinity(process.pid, cpus)
        port = _wait_for_port(process, timeout_s)
    except BaseException as exc:
        _terminate(process)
        stderr.seek(0)
        detail = stderr.read().decode("utf-8", "replace").strip()
        stderr.close()
        if isinstance(exc, SimServerError):
            raise SimServerError(f"{exc}; stderr:\n{detail or '(empty)'}") from None
        raise
    return SimServer(process, host, port, sim_config, stderr)


def _wait_for_port(process: subprocess.Popen[bytes], timeout_s: float) -> int:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout_s
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SimServerError(f"sim server did not report LISTENING within {timeout_s:g} s")
            if not selector.select(remaining):
                continue
            data = os.read(fd, 4096)
            if not data:
                raise SimServerError(f"sim server exited with code {process.wait()} before listening")
            buffer += data
    line = buffer.split(b"\n", 1)[0]
    match = _LISTENING.match(line)
    if not match:
        raise SimServerError(f"unexpected first line from sim server: {line[:200]!r}")
    return int(match.group(1))
