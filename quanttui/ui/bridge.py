"""The console's end of the session's stream: events in, folded into what the screens show.

The session publishes on its own thread. The console holds a *dropping* subscription (a UI may
skip events under a burst, and says how many); when that subscription goes from empty to not
empty the session's thread posts `EventsPending` to the app, and such messages merge while one
waits, so a burst of thousands of events costs one fold on the UI's side. The frame timer also
drains, which covers an event that arrived while a drain was finishing.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from quanttui.core.events import Event, ReplayReset
from quanttui.core.live import LiveState
from quanttui.core.stream import Subscription
from quanttui.core.triage import Tag
from quanttui.core.triage_state import TriageState


class EventsPending(Message):
    """The session published events the console has not folded yet."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending)


class StreamBridge:
    def __init__(
        self,
        subscription: Subscription,
        state: LiveState,
        triage: TriageState,
        journal_tags: Callable[[], dict[tuple[str, str], Tag]],
    ) -> None:
        self.subscription = subscription
        self.state = state
        self.triage = triage
        self._journal_tags = journal_tags
        self.fold_errors = 0
        self.first_error: str | None = None

    def connect(self, post: Callable[[Message], object]) -> None:
        """`post` is called on the session's thread (Textual's post_message is thread-safe)."""
        self.subscription.on_pending = lambda: post(EventsPending())

    @property
    def dropped(self) -> int:
        return self.subscription.dropped

    def fold_pending(self) -> int:
        """Fold whatever arrived; returns how many events. An event the state cannot fold (a bug,
        or a newer event shape) is skipped and counted: a monitor that stops updating would be
        worse than one that misses an event."""
        events = self.subscription.drain()
        for event in events:
            self._fold(event)
        return len(events)

    def _fold(self, event: Event) -> None:
        try:
            self.state.apply(event)
            self.triage.apply(event)
            if isinstance(event, ReplayReset):
                self.load_journal()  # the operator's tags outlive a seek
        except Exception as exc:
            self.fold_errors += 1
            if self.first_error is None:
                self.first_error = repr(exc)

    def load_journal(self) -> None:
        """Tags of an earlier sitting (raises when the journal cannot be read)."""
        self.triage.load_tags(self._journal_tags())
