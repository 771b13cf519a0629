"""Which quantization methods the vLLM an engine will run knows, asked before it is launched.

A misspelt or outdated `quantization` (e.g. `awq_marlin` on a vLLM that predates it) otherwise
costs a full engine start-up before vLLM refuses it. The engine's own Python is asked once
(`vllm.model_executor.layers.quantization.QUANTIZATION_METHODS`); when that Python cannot be
found or vLLM cannot be imported, nothing is checked and the engine's own error will say it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from quanttui.io.config import VariantConfig

_ASK = (
    "import vllm\n"
    "from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS as m\n"
    "print(vllm.__version__)\nprint(' '.join(m))\n"
)


@dataclass(frozen=True)
class KnownMethods:
    vllm_version: str
    methods: frozenset[str]


def engine_python(command: tuple[str, ...]) -> str | None:
    """The Python that will run the engine: `python -m vllm...` names it, `vllm serve` has it in
    the console script's shebang."""
    if len(command) >= 2 and command[1] == "-m":
        return command[0]
    script = shutil.which(command[0]) if command else None
    if script is None:
        return None
    try:
        first = Path(script).read_bytes()[:256].split(b"\n", 1)[0]
    except OSError:
        return None
    if first.startswith(b"#!") and b"python" in first:
        return first[2:].decode("utf-8", "replace").strip().split()[0]
    return None


def known_methods(python: str, timeout_s: float = 120.0) -> KnownMethods | None:
    try:
        done = subprocess.run(
            [python, "-c", _ASK], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or len(lines) < 2:
        return None
    return KnownMethods(lines[-2].strip(), frozenset(lines[-1].split()))


def unknown_quantization(variants: list[VariantConfig]) -> dict[str, str]:
    """variant name -> one-line reason, for each variant whose `quantization` its vLLM does not know."""
    cache: dict[str, KnownMethods | None] = {}
    problems: dict[str, str] = {}
    for variant in variants:
        if not variant.quantization or variant.engine != "vllm":
            continue
        python = engine_python(variant.command)
        if python is None:
            continue
        if python not in cache:
            cache[python] = known_methods(python)
        known = cache[python]
        if known is not None and variant.quantization not in known.methods:
            problems[variant.name] = (
                f"quantization {variant.quantization!r} is not known to vLLM {known.vllm_version} "
                f"(known: {', '.join(sorted(known.methods))})"
            )
    return problems
