"""The markdown the report files share: a table, and a number as every table writes it. Pure."""

from __future__ import annotations

from collections.abc import Sequence


def md_number(value: float | None, digits: int = 1, unit: str = "") -> str:
    """ "1,234.5 ms", or "—" when there is no value."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table's lines; cells are written as given (escape foreign text first)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out
