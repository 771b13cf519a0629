"""`quanttui profile` bad input: one line, exit 2, no run folder made; an engine whose profiler is
off (the simulator has none) is named with the flag to add."""

from __future__ import annotations

import json
import socket
import sys

import pytest

from quanttui.cli import main
from quanttui.core.recording import SCHEMA_VERSION
from quanttui.io.recording_file import fold_recording


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give --demo, --config FILE or --endpoint"),
        (["--demo", "--endpoint", "a=http://x"], "give --demo, --config FILE or --endpoint"),
        (["--config", "/nonexistent.toml"], "/nonexistent.toml: cannot read"),
        (["--endpoint", "a=http://127.0.0.1:9"], "--trace-dir: none given for a"),
        (
            ["--endpoint", "a=http://127.0.0.1:9", "--trace-dir", "a=/tmp", "--model-dir", "a=/nonexistent"],
            "--model-dir /nonexistent",
        ),
        (
            ["--endpoint", "a=http://127.0.0.1:9", "--trace-dir", "a=/tmp", "--tokens", "0"],
            "--tokens and --batch",
        ),
    ],
)
def test_bad_values_are_one_line_and_make_no_folder(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["profile", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_engine_without_the_profiler_is_named_with_the_flag(sim_server, tmp_path, capsys):
    """The simulator has no /start_profile: the run still ends with its recording and
    compute_graphs.md, both saying why there is no profile; exit 3 (not every variant profiled)."""
    server = sim_server()
    out = tmp_path / "out"
    code = main(["profile", "--endpoint", f"sim={server.url}", "--trace-dir", f"sim={tmp_path}",
                 "--tokens", "4", "--out", str(out)])  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err
    assert "profile: sim: no profile: " in err and "--profiler-config" in err
    assert "Traceback" not in err
    markdown = (out / "compute_graphs.md").read_text()
    assert "**sim**: no profile:" in markdown and "--profiler-config" in markdown
    folded = fold_recording(out / "recording.jsonl")
    assert folded.header.schema == SCHEMA_VERSION
    assert "--profiler-config" in folded.fold.compute.unavailable["sim"]
    assert not folded.fold.compute.profiles and folded.fold.compute.runs == 1
    # `quanttui report` on another folder writes the same section from the recording alone.
    assert main(["report", str(out / "recording.jsonl"), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "compute_graphs.md").read_text() == markdown


def test_config_form_launches_the_variants_and_records_why_none_was_profiled(tmp_path, capsys):
    """`--config`: the session file's engines are launched (here simulated ones, which take vLLM's
    --profiler-config flag quanttui adds but have no profiler), each named with why it has no
    profile; the engines are stopped, the recording's header lists the launched variants."""
    ports = [free_port(), free_port()]
    sim = json.dumps([sys.executable, "-m", "quanttui.sim.server"])
    text = "".join(
        f'[variants.{name}]\ncommand = {sim}\nmodel = "m"\nport = {port}\nstop_grace_s = 2.0\n\n'
        for name, port in zip(("bf16", "awq"), ports, strict=True)
    )
    (tmp_path / "s.toml").write_text(text + "[load]\nconcurrency = [1]\n")
    out = tmp_path / "out"
    assert main(["profile", "--config", str(tmp_path / "s.toml"), "--tokens", "4", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "profile: bf16: no profile:" in err and "no /start_profile" in err and "Traceback" not in err
    folded = fold_recording(out / "recording.jsonl")
    assert [v["name"] for v in folded.header.config["variants"]] == ["bf16", "awq"]
    assert set(folded.fold.compute.unavailable) == {"bf16", "awq"}
    argv = folded.header.config["variants"][0]["argv"]
    assert "--profiler-config" in argv  # quanttui turned the profiler on for the launch
    assert sorted(p.name for p in (out / "profiler").iterdir()) == ["awq", "bf16"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
