"""The domain core and the IO layer never import Textual; the core never imports httpx either."""

import subprocess
import sys
from pathlib import Path

import quanttui

PACKAGE = Path(quanttui.__file__).parent


def modules_under(folder: str) -> list[str]:
    return [
        "quanttui." + str(p.relative_to(PACKAGE).with_suffix("")).replace("/", ".")
        for p in sorted((PACKAGE / folder).glob("*.py"))
        if p.name != "__init__.py"
    ]


def imported_after(modules: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {line.split(".")[0] for line in out.split()}


def test_core_imports_neither_textual_nor_httpx():
    loaded = imported_after(modules_under("core"))
    assert "textual" not in loaded
    assert "httpx" not in loaded
    assert "polars" not in loaded


def test_io_layer_and_session_do_not_import_textual():
    loaded = imported_after(modules_under("io") + modules_under("sim") + ["quanttui.session", "quanttui.cli"])
    assert "textual" not in loaded
    assert "pynvml" not in loaded  # imported lazily, only when a sampler runs
