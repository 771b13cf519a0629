"""The report's colours, read from the console's theme files (without Textual).

A report is read on paper and on laptops, so it takes a theme with hex colours (the light one by
default); a theme of terminal colours (`ansi_*`) has no fixed hex value and is refused by name.
The variables the console's themes define (`variant-1`..`4`, `slo-line`, `knee`, `compute-*`) are
the ones the charts use, so a chart and the console agree on which colour is which variant.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

SHIPPED_THEME_DIR = Path(__file__).resolve().parents[1] / "themes"
REPORT_THEME = "quanttui-light"
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")
_NEEDED = ("foreground", "background", "surface", "panel", "primary", "warning", "error", "success")
_NEEDED_VARIABLES = ("variant-1", "variant-2", "variant-3", "variant-4", "slo-line", "knee", "bar-track")


class PaletteError(ValueError):
    """A theme the report cannot use; the message names the file and the field."""


@dataclass(frozen=True)
class Palette:
    name: str
    foreground: str
    background: str
    surface: str
    panel: str
    primary: str
    warning: str
    error: str
    success: str
    variants: tuple[str, ...]  # variant-1..4
    slo_line: str
    knee: str
    bar_track: str
    compute: dict[str, str]  # theme variable ("compute-gemm", ...) -> colour

    def variant(self, index: int) -> str:
        return self.variants[index % len(self.variants)]


def theme_dirs() -> tuple[Path, ...]:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return (SHIPPED_THEME_DIR, Path(base) / "quanttui" / "themes")


def _hex(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise PaletteError(f"{path}: field '{key}': missing or not a colour string")
    if not _HEX.fullmatch(value):
        raise PaletteError(
            f"{path}: field '{key}': {value!r} is not a #RRGGBB colour (a report needs a theme with hex "
            f"colours, e.g. {REPORT_THEME})"
        )
    return value.upper()


def load_palette(name: str = REPORT_THEME, folders: tuple[Path, ...] | None = None) -> Palette:
    """The palette of the theme called `name` (an operator's own theme wins over a shipped one)."""
    found: Path | None = None
    for folder in folders or theme_dirs():
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue  # the console reports a broken theme file; here it is just not this one
            if data.get("name") == name:
                found = path
    if found is None:
        raise PaletteError(f"--theme: no theme called {name!r} in {', '.join(str(f) for f in theme_dirs())}")
    data = tomllib.loads(found.read_text(encoding="utf-8"))
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise PaletteError(f"{found}: field 'variables': expected a table")
    colours = {key: _hex(found, key, data.get(key)) for key in _NEEDED}
    named = {key: _hex(found, f"variables.{key}", variables.get(key)) for key in _NEEDED_VARIABLES}
    compute = {
        key: _hex(found, f"variables.{key}", value)
        for key, value in variables.items()
        if key.startswith("compute-")
    }
    return Palette(
        name=name, **colours,
        variants=tuple(named[f"variant-{i}"] for i in range(1, 5)),
        slo_line=named["slo-line"], knee=named["knee"], bar_track=named["bar-track"], compute=compute,
    )  # fmt: skip
