"""The console's remembered choices (the theme), in `$XDG_CONFIG_HOME/quanttui/settings.toml`
(else `~/.config/quanttui/settings.toml`).

Written atomically (a temporary file beside it, then renamed), so a crash or a second console
never leaves half a file. A file that cannot be read or holds something else is one warning for
the operator, never a crash; the console then starts with its defaults.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "settings.toml"


@dataclass(frozen=True)
class Settings:
    theme: str | None = None


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quanttui" / FILE_NAME


def load_settings(path: Path) -> tuple[Settings, str | None]:
    """The settings, and a warning when the file exists but cannot be used (defaults then)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings(), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Settings(), f"{path}: {exc}"
    theme = data.get("theme")
    if theme is not None and not (isinstance(theme, str) and theme):
        return Settings(), f"{path}: field 'theme': expected a theme name"
    return Settings(theme=theme), None


def save_settings(path: Path, settings: Settings) -> None:
    """Replace the file in one step; raises OSError when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# quanttui console settings (written by quanttui)"]
    if settings.theme is not None:
        lines.append(f"theme = {json.dumps(settings.theme)}")  # a TOML basic string
    fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ThemeMemory:
    """The theme to start with (the one asked for, else the remembered one, else `default`) and
    remembering the operator's later choices; `warnings` are for the operator."""

    def __init__(self, path: Path, asked: str | None, default: str) -> None:
        self.path = path
        settings, problem = load_settings(path)
        self.warnings: list[str] = [problem] if problem else []
        self.remembered = settings.theme
        self.start = asked or settings.theme or default
        self._current = self.start if asked is None else asked  # an asked-for theme is not remembered

    def started_with(self, name: str) -> None:
        """The theme actually applied at start (the remembered one may no longer exist)."""
        self._current = name

    def chose(self, name: str) -> str | None:
        """The operator switched theme: remember it; a warning when it could not be written."""
        if name == self._current:
            return None
        self._current = name
        try:
            save_settings(self.path, Settings(theme=name))
        except OSError as exc:
            return f"theme not remembered: {exc}"
        self.remembered = name
        return None
