"""Fixtures of the real-engine tests (marker `engine`, given to every test in this folder).

`demo_models` runs the real `quanttui demo prepare --all` once per session into `$QUANTTUI_DATA_DIR` or the
default data directory (~/.cache/quanttui), so repeated runs on one machine reuse the venvs and models:
the first run builds them (~6 min on this 2-core machine), later runs only read the markers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from quanttui.demo.paths import default_data_dir
from quanttui.demo.prepare import PreparedModels, prepare_demo_models

DATA_DIR = Path(os.environ.get("QUANTTUI_DATA_DIR") or default_data_dir())
ENGINE_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.engine)


def _progress(line: str) -> None:
    # straight to the terminal: a first build takes minutes and pytest would hide why
    print(line, file=sys.__stderr__, flush=True)


@pytest.fixture(scope="session")
def demo_models() -> PreparedModels:
    return prepare_demo_models(DATA_DIR, _progress, with_quality=True, with_gguf=True)
