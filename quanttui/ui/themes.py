"""Themes from TOML files: one Textual `Theme` per file, checked field by field.

The shipped themes live in the package (`quanttui/themes/`, installed with the wheel); an operator's
own go in `$XDG_CONFIG_HOME/quanttui/themes/` (default `~/.config/quanttui/themes/`) and win over a
shipped one of the same name.

Colours live in these files and nowhere else (the stylesheets use theme variables only). The
console's own variables (`variant-1` .. `variant-4`, `slo-line`, `knee`, `bar-track`, `compute-*`) get defaults from
`THEME_VARIABLE_DEFAULTS`, so Textual's built-in themes work too.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

SHIPPED_THEME_DIR = Path(__file__).resolve().parents[1] / "themes"
DEFAULT_THEME_DIR = SHIPPED_THEME_DIR  # kept for callers that load one folder
DEFAULT_THEME = "quanttui-dark"

THEME_VARIABLE_DEFAULTS = {
    "variant-1": "ansi_bright_cyan",
    "variant-2": "ansi_bright_yellow",
    "variant-3": "ansi_bright_magenta",
    "variant-4": "ansi_bright_green",
    "slo-line": "ansi_red",
    "knee": "ansi_bright_red",
    "bar-track": "ansi_bright_black",
    # the Compute screen's categories (ui/compute_view.py; each has a glyph too)
    "compute-gemm": "ansi_bright_blue",
    "compute-qgemm": "ansi_bright_magenta",
    "compute-dequant": "ansi_magenta",
    "compute-attention": "ansi_bright_green",
    "compute-elementwise": "ansi_yellow",
    "compute-sampling": "ansi_cyan",
    "compute-copies": "ansi_bright_red",
    "compute-comm": "ansi_red",
    "compute-bookkeeping": "ansi_white",
    "compute-other": "ansi_bright_white",
    "compute-gaps": "ansi_bright_black",
}

_COLOURS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground", "background",
            "surface", "panel", "boost")  # fmt: skip
_FLAGS = ("dark", "ansi")
_FLOATS = ("luminosity_spread", "text_alpha")


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the field."""


def _colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: field '{key}': expected a colour string")
    if value != "ansi_default":
        try:
            Color.parse(value)
        except ColorParseError:
            raise ThemeFileError(f"{path}: field '{key}': {value!r} is not a colour") from None
    return value


def load_theme(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeFileError(f"{path}: {exc}") from None
    name = data.pop("name", None)
    if not isinstance(name, str) or not name:
        raise ThemeFileError(f"{path}: field 'name': expected a non-empty string")
    kwargs: dict[str, object] = {}
    variables = data.pop("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError(f"{path}: field 'variables': expected a table of strings")
    for key, value in data.items():
        if key in _COLOURS:
            kwargs[key] = _colour(path, key, value)
        elif key in _FLAGS and isinstance(value, bool):
            kwargs[key] = value
        elif key in _FLOATS and isinstance(value, int | float):
            kwargs[key] = float(value)
        else:
            raise ThemeFileError(f"{path}: field '{key}': unknown field or wrong type")
    if "primary" not in kwargs:
        raise ThemeFileError(f"{path}: field 'primary': required")
    return Theme(name=name, variables=dict(variables), **kwargs)  # type: ignore[arg-type]


def user_theme_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quanttui" / "themes"


def default_theme_dirs() -> tuple[Path, ...]:
    """Shipped first, the operator's own last (a later theme of the same name replaces it)."""
    return (SHIPPED_THEME_DIR, user_theme_dir())


def load_theme_dirs(folders: tuple[Path, ...]) -> tuple[list[Theme], list[str]]:
    by_name: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in folders:
        themes, folder_errors = load_themes(folder)
        by_name.update((theme.name, theme) for theme in themes)
        errors.extend(folder_errors)
    return list(by_name.values()), errors


def load_themes(folder: Path = DEFAULT_THEME_DIR) -> tuple[list[Theme], list[str]]:
    """Every `*.toml` theme in `folder`, and one error line per file that could not be used."""
    themes: list[Theme] = []
    errors: list[str] = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            themes.append(load_theme(path))
        except ThemeFileError as exc:
            errors.append(str(exc))
    return themes, errors
