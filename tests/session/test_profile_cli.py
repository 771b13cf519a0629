"""`quanttui profile` bad input: one line, exit 2, no run folder made; an engine whose profiler is
off (the simulator has none) is named with the flag to add."""

from __future__ import annotations

import pytest

from quanttui.cli import main


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
    server = sim_server()
    code = main(["profile", "--endpoint", f"sim={server.url}", "--trace-dir", f"sim={tmp_path}",
                 "--tokens", "4", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("quanttui profile: error: sim: ") and "--profiler-config" in err
