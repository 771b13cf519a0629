"""`quanttui profile` bad input: one line, exit 2, no run folder made; an engine whose profiler is
off (the simulator has none) is named with the flag to add."""

from __future__ import annotations

import pytest

from quanttui.cli import main
from quanttui.core.recording import SCHEMA_VERSION
from quanttui.io.recording_file import fold_recording


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give --demo or --endpoint"),
        (["--demo", "--endpoint", "a=http://x"], "give --demo or --endpoint"),
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
