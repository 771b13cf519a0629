"""Variant names: they become file names (logs/<variant>.log), CSV cells and screen labels, so they
are held to a safe character set and cannot name a path outside the run's folder."""

from __future__ import annotations

import re

VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
NAME_RULE = "1-40 characters: letters, digits, '_', '-', '.', starting with a letter or digit"
MIN_VARIANTS, MAX_VARIANTS = 2, 4


def variant_name_problem(name: str) -> str | None:
    """Why `name` cannot be a variant's name, or None when it can."""
    if VARIANT_NAME.match(name) and ".." not in name:
        return None
    return f"variant name {name!r} is not allowed ({NAME_RULE})"


def variant_count_problem(count: int) -> str | None:
    if MIN_VARIANTS <= count <= MAX_VARIANTS:
        return None
    return f"{count} variant(s): a comparison needs {MIN_VARIANTS} to {MAX_VARIANTS}"
