"""The wheel carries every data file the program reads at run time (themes, demo scripts, data)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_holds_the_data_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "quanttui", src / "quanttui", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("quanttui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    in_tree = {
        p.relative_to(src).as_posix()
        for pattern in ("themes/*.toml", "demo/scripts/*.py", "demo/data/*.txt", "data/**/*.jsonl")
        for p in (src / "quanttui").glob(pattern)
    }
    assert any(n.startswith("quanttui/themes/") for n in in_tree)
    assert in_tree <= names, sorted(in_tree - names)
