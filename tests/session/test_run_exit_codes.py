"""`quanttui run` exits 3, with one line saying why, when no comparison was possible."""

import socket
import subprocess
import sys


def free_ports(count: int) -> list[int]:
    ports = []
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports


def config(tmp_path, commands: dict[str, str]) -> str:
    ports = free_ports(len(commands))
    text = ""
    for (name, command), port in zip(commands.items(), ports, strict=True):
        text += f'[variants.{name}]\ncommand = {command}\nmodel = "m"\nport = {port}\nstop_grace_s = 2.0\n\n'
    text += "[load]\nconcurrency = [1]\nrequests_per_step = 2\nmax_tokens = 4\n"
    path = tmp_path / "s.toml"
    path.write_text(text)
    return str(path)


SIM = f'[{sys.executable!r}, "-m", "quanttui.sim.server"]'
BROKEN = f'[{sys.executable!r}, "-c", "import sys; print(\'no such model\', flush=True); sys.exit(1)"]'


def run(tmp_path, commands: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quanttui", "run", "--config", config(tmp_path, commands), "--out",
                           str(tmp_path / "o"), "--headless", "--json"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_one_engine_of_two_failing_is_no_comparison_exit_3(tmp_path):
    done = run(tmp_path, {"bf16": SIM, "awq": BROKEN})
    assert done.returncode == 3, done.stderr
    assert "no comparison was possible: 1 variant(s) measured (bf16)" in done.stderr
    assert (tmp_path / "o" / "recording.jsonl").exists()  # the run itself is kept


def test_no_engine_ready_is_exit_3_and_two_measured_is_0(tmp_path):
    done = run(tmp_path, {"bf16": BROKEN, "awq": BROKEN})
    assert done.returncode == 3 and "0 variant(s) measured; sweep no_engine_ready" in done.stderr
    (tmp_path / "again").mkdir()
    ok = run(tmp_path / "again", {"bf16": SIM, "awq": SIM})
    assert ok.returncode == 0, ok.stderr
