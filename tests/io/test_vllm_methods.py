"""Quantization names are checked against the vLLM that will run them, before anything starts."""

import asyncio
import os
import stat
from pathlib import Path

from quanttui.core.clock import SessionClock
from quanttui.io.config import VariantConfig
from quanttui.io.launcher import Launcher
from quanttui.io.vllm_methods import engine_python, unknown_quantization


def fake_python(tmp_path: Path, body: str) -> str:
    """A stand-in interpreter that answers the question the way vLLM's Python would."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_engine_python_from_the_command(tmp_path):
    assert (
        engine_python(("/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server")) == "/venv/bin/python"
    )
    console = tmp_path / "vllm"
    console.write_text("#!/opt/venv/bin/python3.11\nimport sys\n")
    console.chmod(0o755)
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{tmp_path}:{old}"
    try:
        assert engine_python(("vllm", "serve")) == "/opt/venv/bin/python3.11"
    finally:
        os.environ["PATH"] = old
    assert engine_python(("no-such-command-xyz", "serve")) is None


def test_unknown_names_fail_before_launch_and_known_ones_pass(tmp_path):
    python = fake_python(tmp_path, 'echo 0.32.0; echo "awq awq_marlin gptq gptq_marlin"')
    variants = [
        VariantConfig(name="a", model="m", served_name="a", quantization="awq_marlin", command=(python, "-m", "x")),
        VariantConfig(name="b", model="m", served_name="b", quantization="gptq_marlinn", command=(python, "-m", "x")),
        VariantConfig(name="c", model="m", served_name="c", command=(python, "-m", "x")),
    ]  # fmt: skip
    problems = unknown_quantization(variants)
    assert list(problems) == ["b"]
    assert problems["b"].startswith("quantization 'gptq_marlinn' is not known to vLLM 0.32.0 (known: awq, ")
    broken = fake_python(tmp_path, "exit 1")  # no vLLM there: nothing is checked, the engine will say
    assert unknown_quantization([VariantConfig(name="d", model="m", served_name="d", quantization="zzz",
                                               command=(broken, "-m", "x"))]) == {}  # fmt: skip


def test_the_launcher_fails_such_a_variant_with_the_reason(tmp_path):
    python = fake_python(tmp_path, 'echo 0.32.0; echo "awq"')
    events = []
    launcher = Launcher(events.append, SessionClock())
    variant = VariantConfig(name="b", model="m", served_name="b", quantization="awq_marlin", command=(python, "-m", "x"),
                            extra_args=("--api-key", "sk-launch-secret"))  # fmt: skip
    engines = asyncio.run(launcher.start_all([variant]))
    assert engines["b"].failure == "unknown quantization"
    assert "not known to vLLM 0.32.0" in events[-1].detail
    assert all("sk-launch-secret" not in getattr(e, "detail", "") for e in events)  # argv redacted
