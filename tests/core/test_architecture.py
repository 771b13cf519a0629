"""The layers hold: the import contracts in pyproject.toml (import-linter), and the headless
commands never load Textual at run time (an import inside a function escapes a static check)."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import quanttui

PACKAGE = Path(quanttui.__file__).parent
ROOT = PACKAGE.parent


def test_the_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout
    assert {c["type"] for c in contracts} == {"layers", "forbidden"} and len(contracts) >= 5


def modules_under(folder: str) -> list[str]:
    return [
        "quanttui." + str(p.relative_to(PACKAGE).with_suffix("")).replace("/", ".")
        for p in sorted((PACKAGE / folder).rglob("*.py"))
        if p.name != "__init__.py" and "scripts" not in p.parts
    ]


def imported_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split(".")[0] for line in out.split()}


def test_every_module_below_the_ui_imports_without_textual():
    below = modules_under("core") + modules_under("io") + modules_under("session") + modules_under("sim")
    loaded = imported_after("".join(f"import {m}\n" for m in below))
    assert "textual" not in loaded
    assert "pynvml" not in loaded  # imported lazily, only when a sampler runs


def test_a_headless_command_never_loads_textual(tmp_path):
    """`quanttui replay --headless` end to end in a child process, then what it had loaded."""
    recording = ROOT / "tests" / "data" / "recordings" / "ui-sim.jsonl"
    code = (
        "import sys\nfrom quanttui.cli import main\n"
        f"sys.argv = ['quanttui', 'replay', '--headless', {str(recording)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    )
    loaded = imported_after(code)
    assert "quanttui" in loaded and "textual" not in loaded


def test_the_console_loads_textual(tmp_path):
    """The check above can fail: the console's own module does load Textual."""
    assert "textual" in imported_after("import quanttui.ui.app")
