"""Reading quality prompt sets from disk: the shipped default, or an operator's own file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from quanttui.core.quality_set import QualitySet, QualitySetError, parse_quality_set

DEFAULT_SET = "default.jsonl"


def load_quality_set(path: Path) -> QualitySet:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QualitySetError(f"{path}:0: (file): no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QualitySetError(f"{path}:0: (file): {exc}") from None
    return parse_quality_set(text.splitlines(), str(path))


def default_quality_set() -> QualitySet:
    text = resources.files("quanttui.data.quality").joinpath(DEFAULT_SET).read_text(encoding="utf-8")
    return parse_quality_set(text.splitlines(), f"quanttui/data/quality/{DEFAULT_SET}", name="default")
