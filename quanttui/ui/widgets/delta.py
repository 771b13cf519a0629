"""The delta strip: each variant against the first (B vs A), between the columns."""

from __future__ import annotations

from quanttui.ui.widgets.text import LiteralLine


class DeltaStrip(LiteralLine):
    """Vertical between two columns; one line per variant when there are three or four."""
