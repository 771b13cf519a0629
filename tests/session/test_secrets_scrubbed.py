"""Secrets that a server echoes or an engine prints never reach anything quanttui writes or shows:
the recording, sweep.csv, the summary, engine logs, stderr, a triage's catalog, a report."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from quanttui.core.secrets import MASK

KEY = "sk-echoed-by-a-proxy-0042"


def quanttui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quanttui", *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, **env})  # fmt: skip


def guarded(sim_server, model: str = "m"):
    os.environ["QT_ECHO_KEY"] = KEY
    try:
        return sim_server(model=model, ttft_ms=5, itl_ms=2, api_key_env="QT_ECHO_KEY")
    finally:
        del os.environ["QT_ECHO_KEY"]


def every_file(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.is_file()]


def test_a_key_echoed_in_error_bodies_is_masked_in_the_recording_csv_and_summary(tmp_path, sim_server):
    server = guarded(sim_server)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "fine"}\n{"prompt": "who am I [[fault:echo_auth]]"}\n')
    done = quanttui(
        "sweep", "--endpoint", f"a={server.url}", "--api-key-env", "QT_ECHO_KEY", "--concurrency", "2",
        "--requests-per-step", "4", "--max-tokens", "4", "--prompts", str(prompts), "--out", str(tmp_path / "o"),
        "--json", env={"QT_ECHO_KEY": KEY},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    recording = (tmp_path / "o" / "recording.jsonl").read_text()
    assert f"Received API Key = Bearer {MASK}" in recording  # the error is kept, the key is not
    for path in every_file(tmp_path / "o"):
        assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in done.stdout + done.stderr


def test_a_key_echoed_to_a_triage_never_reaches_its_catalog_or_report(tmp_path, sim_server):
    a, b = guarded(sim_server), guarded(sim_server)
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(
        '{"id": "f1", "category": "factual", "prompt": "Capital of France?", "max_tokens": 8}\n'
        '{"id": "f2", "category": "factual", "prompt": "Echo [[fault:echo_auth]]", "max_tokens": 8}\n'
    )
    done = quanttui("triage", "--endpoint", f"bf16={a.url}", "--endpoint", f"awq={b.url}", "--api-key-env",
                    "QT_ECHO_KEY", "--prompts", str(prompts), "--headless", "--out", str(tmp_path / "t"),
                    "--export", "md,csv,json", env={"QT_ECHO_KEY": KEY})  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = quanttui("report", str(tmp_path / "t" / "recording.jsonl"), "--out", str(tmp_path / "r"), env={})
    assert report.returncode == 0, report.stderr
    catalog = (tmp_path / "t" / "failure_catalog.json").read_text()
    assert MASK in catalog  # the echoed error is in the catalog, masked
    for path in every_file(tmp_path / "t", tmp_path / "r"):
        assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in done.stdout + done.stderr + report.stdout + report.stderr


ENGINE = (
    "import os, runpy, sys\n"
    "print('argv:', ' '.join(sys.argv[1:]), flush=True)\n"
    "print('HF_TOKEN=' + os.environ.get('HF_TOKEN', ''), 'VLLM_API_KEY=' + os.environ.get('VLLM_API_KEY', ''), flush=True)\n"
    "sys.argv = ['sim'] + sys.argv[1:]\n"
    "runpy.run_module('quanttui.sim.server', run_name='__main__')\n"
)


def test_an_engine_that_prints_its_secrets_gets_them_by_environment_and_its_log_is_masked(
    tmp_path, free_port
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        other_port = sock.getsockname()[1]
    config = tmp_path / "s.toml"
    config.write_text(
        f"""
[variants.bf16]
command = [{sys.executable!r}, "-c", {ENGINE!r}]
model = "m"
served_name = "smol"
port = {free_port}
extra_args = ["--api-key", "vllm-flag-secret-123", "--ttft-ms", "5", "--itl-ms", "2"]
env = {{ HF_TOKEN = "hf_env_secret_456" }}

[variants.awq]
command = [{sys.executable!r}, "-m", "quanttui.sim.server"]
model = "m"
served_name = "smol-awq"
port = {other_port}

[load]
concurrency = [1]
requests_per_step = 2
max_tokens = 4
"""
    )
    done = quanttui("run", "--config", str(config), "--out", str(tmp_path / "o"), "--headless", env={})
    assert done.returncode == 0, done.stderr
    out = tmp_path / "o"
    log = (out / "logs" / "bf16.log").read_text()
    # vLLM reads VLLM_API_KEY: the key left the command line (and `ps`) for the environment.
    assert "argv:" in log and "--api-key" not in log.split("argv:")[1].splitlines()[0]
    assert f"HF_TOKEN={MASK}" in log and f"VLLM_API_KEY={MASK}" in log
    for path in every_file(out):
        text = path.read_text(errors="replace")
        assert "vllm-flag-secret-123" not in text and "hf_env_secret_456" not in text, path
    assert "vllm-flag-secret-123" not in done.stdout + done.stderr
    assert "hf_env_secret_456" not in done.stdout + done.stderr
