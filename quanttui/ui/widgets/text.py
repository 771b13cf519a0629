"""A Static that only ever shows literal text, and only repaints when the text changes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import Static


class LiteralLine(Static):
    """Shows `rich.text.Text(value)`: square brackets and the like are never read as markup."""

    def __init__(self, value: str = "", *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(Text(value), id=id, classes=classes)
        self.value = value

    def show(self, value: str) -> None:
        if value != self.value:
            self.value = value
            self.update(Text(value))


class FittedLine(LiteralLine):
    """Shows the longest of several wordings that fits its width (each keeps what must not be
    lost, such as a decision word); the shortest, cut with an ellipsis, when none fits."""

    def __init__(self, value: str = "", *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(value, id=id, classes=classes)
        self.forms: tuple[str, ...] = ()

    def show_fitted(self, forms: Sequence[str]) -> None:
        self.forms = tuple(forms)
        self._fit()

    def _fit(self) -> None:
        width = self.content_size.width
        fits = [f for f in self.forms if width <= 0 or cell_len(f) <= width]
        self.show(fits[0] if fits else self.forms[-1] if self.forms else "")

    def on_resize(self, _event: events.Resize) -> None:
        self._fit()
