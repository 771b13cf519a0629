"""The autouse `isolated_home` fixture (tests/conftest.py): no test reads or writes the operator's own
themes, config or data, whichever of XDG_CONFIG_HOME or HOME the code looks at; the demo data stays put."""

import os
from pathlib import Path

from quanttui.demo.paths import default_data_dir
from quanttui.ui.themes import user_theme_dir

# read at import (collection), before any fixture changed the environment
ORIGINAL_HOME = Path(os.path.expanduser("~"))
ORIGINAL_DATA_DIR = default_data_dir()


def test_themes_are_read_from_the_test_s_own_folders(isolated_home, monkeypatch):
    assert Path.home() == isolated_home / "home" != ORIGINAL_HOME
    assert user_theme_dir().is_relative_to(isolated_home)
    monkeypatch.delenv("XDG_CONFIG_HOME")  # the HOME fallback is isolated as well
    assert user_theme_dir() == isolated_home / "home" / ".config" / "quanttui" / "themes"


def test_the_demo_data_directory_is_the_operator_s(isolated_home):
    assert default_data_dir() == ORIGINAL_DATA_DIR
    assert not default_data_dir().is_relative_to(isolated_home)
