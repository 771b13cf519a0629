"""`quanttui run` stops every engine it launched however it is stopped (simulator engines here;
the same launcher drives vLLM in tests/engine)."""

import json
import signal
import socket
import subprocess
import sys

import psutil
import pytest
from waiting import wait_until


def session_file(tmp_path, ports):
    lines = ["[load]", "concurrency = [2]", "step_seconds = 60", "max_tokens = 20", "ignore_eos = true", ""]
    for name, port in zip(("bf16", "awq"), ports, strict=True):
        lines += [
            f"[variants.{name}]",
            f'model = "{name}"',
            f"command = {json.dumps([sys.executable, '-m', 'quanttui.sim.server'])}",
            'extra_args = ["--ttft-ms", "20", "--itl-ms", "20"]',
            f"port = {port}",
            "",
        ]
    path = tmp_path / "session.toml"
    path.write_text("\n".join(lines))
    return path


def two_free_ports() -> tuple[int, int]:
    """Two distinct ports nobody listens on (both sockets open at once, so they differ)."""
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return a.getsockname()[1], b.getsockname()[1]


def engine_pids(recording) -> list[int]:
    pids = []
    for line in recording.read_text().splitlines():
        event = json.loads(line)
        if event.get("type") == "EndpointInfo":
            pids += event["pids"]
    return pids


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    "signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGKILL, -9)]
)
def test_no_engine_outlives_quanttui_run(tmp_path, signum, code):
    ports = two_free_ports()
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "quanttui", "run", "--config", str(session_file(tmp_path, ports)), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    recording = out / "recording.jsonl"
    wait_until(
        lambda: recording.exists() and "RequestResult" in recording.read_text(),
        timeout=60,
        what="the first request result in the recording",
        detail=lambda: process.stderr.read() if process.poll() is not None else "quanttui run still running",
    )
    pids = engine_pids(recording)
    assert len(pids) == 2 and all(running(p) for p in pids)
    process.send_signal(signum)
    process.communicate(timeout=30)
    assert process.returncode == code
    wait_until(lambda: not any(running(p) for p in pids), what="every engine to be gone")
    if signum != signal.SIGKILL:
        assert (out / "sweep.csv").exists()


def test_a_run_under_nohup_outlives_the_hangup(tmp_path):
    """`nohup quanttui run ...` (SIGHUP ignored) keeps measuring after the terminal hangs up; SIGTERM
    still stops it cleanly (README: keep a long ramp alive across SSH drops)."""
    ports = two_free_ports()
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "quanttui", "run", "--config", str(session_file(tmp_path, ports)), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # what nohup does
    )  # fmt: skip
    recording = out / "recording.jsonl"

    def results() -> int:
        return recording.read_text().count('"RequestResult"') if recording.exists() else 0

    wait_until(results, timeout=60, what="the first request result in the recording")
    process.send_signal(signal.SIGHUP)
    seen = results()
    wait_until(lambda: results() > seen + 5, what="more requests measured after the hang-up")
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 143 and (out / "sweep.csv").exists()
