"""Dialogs that read their keys from the app, in the app's own task, in the order typed.

Textual routes a key to the widget focused when the app dispatches it, while focus changes and
screens come and go later, on other tasks: keys typed ahead of a dialog, inside it right after a
focus change, or right after the key that closes it, reached the wrong place or none (#15). A
`KeyDialog` has no focusable widget; the app hands it every key while it is on top
(`QuanttuiApp.on_event`), and it updates its state and closes synchronously, so the next key
already meets the screen beneath.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.screen import ModalScreen

T = TypeVar("T")


class KeyDialog(ModalScreen[T]):
    AUTO_FOCUS = None  # no widget takes the focus: the dialog reads the keys

    def read_key(self, event: events.Key) -> None:
        """One key, in the order typed (called by the app while this dialog is on top)."""
        raise NotImplementedError

    def on_key(self, event: events.Key) -> None:
        """A key that reached the screen another way (a test posting to it) is read the same."""
        event.stop()
        event.prevent_default()
        self.read_key(event)
