"""The theme choice outlives the console (issue 15): remembered in
$XDG_CONFIG_HOME/quanttui/settings.toml (each test has its own, tests/conftest.py), written in one
step; a bad file is one warning and the defaults, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from console_helpers import replay_app, wait_until

from quanttui.ui.run import finish_session
from quanttui.ui.settings import Settings, ThemeMemory, load_settings, save_settings, settings_path


def test_the_settings_file_lives_under_xdg_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert settings_path() == tmp_path / "xdg" / "quanttui" / "settings.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert settings_path() == tmp_path / "home" / ".config" / "quanttui" / "settings.toml"


def test_settings_round_trip_and_replace_in_one_step(tmp_path):
    path = tmp_path / "q" / "settings.toml"
    assert load_settings(path) == (Settings(), None)  # no file yet: defaults, nothing to say
    save_settings(path, Settings(theme='odd "name" ü'))
    assert load_settings(path) == (Settings(theme='odd "name" ü'), None)
    save_settings(path, Settings(theme="quanttui-light"))
    assert load_settings(path) == (Settings(theme="quanttui-light"), None)
    assert os.listdir(path.parent) == ["settings.toml"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("body", "words"),
    [("theme = [1, 2", "settings.toml"), ("theme = 3", "field 'theme'"), (b"\xff\xfe", "settings.toml")],
)
def test_a_bad_settings_file_is_a_warning_and_the_defaults(tmp_path, body, words):
    path = tmp_path / "settings.toml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    settings, warning = load_settings(path)
    assert settings == Settings() and warning is not None and words in warning
    memory = ThemeMemory(path, None, "quanttui-dark")
    assert memory.start == "quanttui-dark" and memory.warnings == [warning]


def test_a_theme_that_cannot_be_remembered_is_said(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the folder would be
    memory = ThemeMemory(blocked / "settings.toml", None, "quanttui-dark")
    assert memory.chose("quanttui-dark") is None  # no change: nothing to write
    assert "theme not remembered" in (memory.chose("quanttui-light") or "")


async def run_once(tmp_path: Path, theme_to_choose: str | None = None):
    """One console (a replay); returns the theme it started with and what it told."""
    app = replay_app(tmp_path / "out")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.is_mounted and app.theme, what="the app")
            await pilot.pause()
            started = app.theme
            if theme_to_choose is not None:
                app.theme = theme_to_choose  # as the palette's Theme command does
                await wait_until(
                    pilot, lambda: load_settings(settings_path())[0].theme == theme_to_choose, what="saved"
                )
    finally:
        await finish_session(app, grace_s=10)
    return started, [(title, message) for title, message, severity in app.told if severity == "warning"]


async def test_the_chosen_theme_is_used_at_the_next_start(tmp_path):
    assert not settings_path().exists()
    started, warnings = await run_once(tmp_path, "quanttui-light")
    assert started == "quanttui-dark" and warnings == []
    assert settings_path().read_text(encoding="utf-8").splitlines()[-1] == 'theme = "quanttui-light"'
    started, warnings = await run_once(tmp_path)
    assert started == "quanttui-light" and warnings == []


async def test_a_bad_or_stale_settings_file_starts_the_console_with_one_warning(tmp_path):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("theme = = broken\n", encoding="utf-8")
    started, warnings = await run_once(tmp_path)
    assert started == "quanttui-dark" and len(warnings) == 1 and warnings[0][0] == "settings not read"
    path.write_text('theme = "gone-theme"\n', encoding="utf-8")  # a theme file removed since
    started, warnings = await run_once(tmp_path)
    assert started == "quanttui-dark" and warnings == [
        ("", "theme 'gone-theme' is not installed: quanttui-dark")
    ]
