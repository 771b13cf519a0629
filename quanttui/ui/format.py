"""How numbers read in the console: fixed widths, thousands separators, "—" for unknown.

Kept free of Textual so the wording can be tested and stays the same in every panel.
"""

from __future__ import annotations

DASH = "—"


def num(value: float | None, digits: int = 0, width: int = 0) -> str:
    """1234.5 -> "1,234" (digits=0) or "1,234.5"; None -> "—"."""
    text = DASH if value is None else f"{value:,.{digits}f}"
    return text.rjust(width)


def ms(value: float | None, width: int = 0) -> str:
    """Milliseconds: whole ms from 10 ms up, one decimal below."""
    if value is None:
        return DASH.rjust(width)
    return num(value, 0 if abs(value) >= 10 else 1, width)


def pct(fraction: float | None, width: int = 0) -> str:
    return (DASH if fraction is None else f"{fraction * 100:.1f}%").rjust(width)


def times(value: float | None) -> str:
    """A ratio as "×2.37"."""
    return DASH if value is None else f"×{value:.2f}"


def clock(seconds: float | None) -> str:
    """Elapsed session time as m:ss (h:mm:ss past an hour)."""
    if seconds is None:
        return DASH
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def mib(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value / 1024:,.2f} GiB" if value >= 10_240 else f"{value:,.0f} MiB"
