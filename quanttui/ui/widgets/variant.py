"""One variant's column: engine state and start-up progress, memory, KV cache, queue, speed, latency.

Every column is built the same way so two engines read side by side; state shows as CSS classes
(`-failed`, `-over-slo`, `-kv-high`, `-breaches` ...) whose colours come from the theme and only
repeat what the words say. The capacity and step-decision lines shorten to their width
(`FittedLine`) without losing the decision word; the live lines without losing their window's length.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from quanttui.ui.views import VariantView
from quanttui.ui.widgets.meter import Meter
from quanttui.ui.widgets.text import FittedLine, LiteralLine

STATE_CLASSES = ("ready", "starting", "failed", "stopped", "attached", "unknown")
DECISIONS = ("meets", "breaches", "undecided")


class VariantColumn(Vertical):
    """Mirrored panel for one engine; `show(view)` copies a `VariantView` onto it."""

    def __init__(self, name: str, index: int) -> None:
        super().__init__(id=f"variant-{index}", classes=f"variant-column -v{index % 4 + 1}")
        self.variant = name
        self.border_title = name

    def compose(self) -> ComposeResult:
        yield LiteralLine(classes="state-line")
        with Horizontal(classes="phase-row"):
            yield Meter(classes="phase-bar")
            yield LiteralLine(classes="phase-label")
        yield LiteralLine(classes="mem-line")
        with Horizontal(classes="kv-row"):
            yield LiteralLine("KV", classes="kv-label")
            yield Meter(classes="kv-bar")
            yield LiteralLine(classes="kv-text")
        yield LiteralLine(classes="queue-line")
        yield FittedLine(classes="tok-line")
        yield FittedLine(classes="ttft-line")
        yield FittedLine(classes="e2e-line")
        yield FittedLine(classes="extra-line")
        yield FittedLine(classes="step-line")
        yield LiteralLine(classes="errors-line")
        yield FittedLine(classes="capacity-line")
        yield FittedLine(classes="decision-line")
        yield LiteralLine(classes="roof-line")
        yield LiteralLine(classes="retired-line")

    def line(self, name: str) -> LiteralLine:
        return self.query_one(f".{name}", LiteralLine)

    def fitted(self, name: str) -> FittedLine:
        return self.query_one(f".{name}", FittedLine)

    def show(self, view: VariantView) -> None:
        self.border_title = view.title
        self.border_subtitle = view.subtitle
        self.line("state-line").show(view.state_text)
        for cls in STATE_CLASSES:
            self.line("state-line").set_class(cls == view.state_class, f"-{cls}")
        self.set_class(view.state_class == "failed", "-failed")
        phase_row = self.query_one(".phase-row")
        phase_row.display = view.phase is not None
        if view.phase is not None:
            done, total, label = view.phase
            self.query_one(".phase-bar", Meter).fraction = done / total
            self.line("phase-label").show(f"{label} {done}/{total}")
        self.line("mem-line").show(view.mem_text)
        bar = self.query_one(".kv-bar", Meter)
        bar.fraction = (view.kv_percent or 0.0) / 100
        for level in ("high", "full"):
            bar.set_class(view.kv_level == level, f"-kv-{level}")
        self.line("kv-text").show(view.kv_text)
        self.line("queue-line").show(view.queue_text)
        self.fitted("tok-line").show_fitted(view.tok_texts)
        self.fitted("ttft-line").show_fitted(view.ttft_texts)
        self.fitted("e2e-line").show_fitted(view.e2e_texts)
        extra = self.fitted("extra-line")
        extra.display = view.extra_slo_texts is not None
        extra.show_fitted(view.extra_slo_texts or ())
        for name in ("ttft", "e2e", "extra"):
            self.line(f"{name}-line").set_class(view.over_slo and view.slo_line == name, "-over-slo")
        self.fitted("step-line").show_fitted(view.step_texts)
        errors = self.line("errors-line")
        errors.show(view.errors_text)
        errors.set_class(view.has_errors, "-has-errors")
        for name, forms in (("capacity-line", view.capacity_texts), ("decision-line", view.decision_texts)):
            line = self.query_one(f".{name}", FittedLine)
            line.display = bool(forms)
            line.show_fitted(forms)
        capacity = self.line("capacity-line")
        capacity.set_class(view.capacity_class == "decided", "-decided")
        capacity.set_class(view.capacity_class == "undecided", "-undecided")
        decision = self.line("decision-line")
        for word in DECISIONS:
            decision.set_class(view.decision_class == word, f"-{word}")
        roof = self.line("roof-line")
        roof.display = view.roof_text is not None
        roof.show(f"roofline {view.roof_text}" if view.roof_text else "")
        retired = self.line("retired-line")
        retired.display = view.retired_text is not None
        retired.show(view.retired_text or "")
