"""The frame checker of test_screen_numbers.py: the console's words at one frame against the
session's fold (the `StepStats` sweep.csv gets) and against each other; what disagrees is collected
by kind, so one replay names every kind of contradiction, not only the first."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from quanttui.core.events import Event, InstanceState, RequestResult, StepFinished
from quanttui.core.fold import SessionFold
from quanttui.core.live import LiveState
from quanttui.core.stepstats import StepStats
from quanttui.ui.format import ms, num, times
from quanttui.ui.views import delta_lines, delta_row, variant_view

WINDOW_LABEL = re.compile(r"\((?:last )?\d+(?:\.\d+)? s\)")


def live_numbers(line: str) -> str:
    """A live line without its name ("E2E", "tok/s") and window label: only its values."""
    return WINDOW_LABEL.sub("", line.split(" ", 1)[-1])


GAP_S = 1.0  # a variant is loaded over an interval its requests cover, gaps under this merged


def first(forms: str | tuple[str, ...] | None) -> str:
    """The longest wording of a line (what a wide terminal shows)."""
    return forms if isinstance(forms, str) else forms[0] if forms else ""


def number(text: str) -> float | None:
    return None if text == "—" else float(text.replace(",", "").removeprefix("×"))


@dataclass
class Activity:
    """When each variant had requests in flight, per step: from the whole recording, so a frame's
    window is checked against what was still to come."""

    spans: dict[tuple[str, int], list[tuple[float, float]]] = field(default_factory=dict)

    @classmethod
    def of(cls, events: list[Event]) -> Activity:
        raw: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
        for e in events:
            if isinstance(e, RequestResult) and e.step is not None:
                raw[(e.variant, e.step)].append((e.start, e.t))
        merged = {}
        for key, intervals in raw.items():
            out: list[list[float]] = []
            for start, end in sorted(intervals):
                if out and start <= out[-1][1] + GAP_S:
                    out[-1][1] = max(out[-1][1], end)
                else:
                    out.append([start, end])
            merged[key] = [(a, b) for a, b in out]
        return cls(merged)

    def loaded(self, variant: str, step: int, start: float, end: float) -> bool:
        return any(a <= start + GAP_S and b >= end for a, b in self.spans.get((variant, step), []))


Ratios = dict[str, tuple[str, str]]  # "tok/s" -> ("tok/s 5 s", "×1.12")


@dataclass
class Checker:
    """Folds the replay into the console's state and checks every frame; collects what disagrees
    (kind -> examples) so one run names every kind of contradiction, not only the first."""

    state: LiveState
    fold: SessionFold  # the session's: what the stop rules, the summary and sweep.csv read
    activity: Activity
    detail: dict[str, str] = field(default_factory=dict)  # each engine's last recorded state detail
    frames: int = 0
    sources: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    last_second: int | None = None

    def expect(self, ok: bool, kind: str, example: str) -> bool:
        if not ok:
            self.problems[kind].append(example)
        return ok

    def on_event(self, event: Event) -> None:
        self.state.apply(event)
        if isinstance(event, InstanceState):
            self.detail[event.variant] = event.detail
        second = math.floor(event.t)
        if isinstance(event, StepFinished) or (self.last_second is not None and second > self.last_second):
            self.frame()
        self.last_second = second

    def frame(self) -> None:
        """One frame as the app draws it (the open step's statistics fresh), checked."""
        self.frames += 1
        self.state.refresh_running(None)
        for name in self.state.names():
            self.check_panel(name)
        self.check_strip()

    # -- one variant's panel ----------------------------------------------------------------------
    def finished_rows(self, name: str) -> list[StepStats]:
        return [
            self.fold.step_stats(name, s) for s in self.state.steps_done if name in self._step_variants(s)
        ]

    def _step_variants(self, step: int) -> tuple[str, ...]:
        window = self.fold.aggregator.steps.get(step)
        return tuple(window.variants) if window else ()

    def ended(self, name: str) -> bool:
        return self.state.variants[name].state in ("stopped", "failed")

    def check_panel(self, name: str) -> None:
        state = self.state
        view = variant_view(state, name)
        where = f"{name} at t={state.now:.1f}"
        open_step = state.step if state.step is not None and state.step not in state.steps_done else None
        in_open = open_step is not None and name in self._step_variants(open_step)
        # Request counts: the step's own, measured and warm-up said apart.
        step_line = first(view.step_texts)
        rows = self.finished_rows(name)
        if in_open:
            results = self.fold.aggregator.results.get((name, open_step), [])
            measured = sum(1 for r in results if not r.warmup)
            warmup = sum(1 for r in results if r.warmup)
            errors = sum(1 for r in results if not r.warmup and not r.ok)
            head = f"{state.step_level_text} now{self.lag_said(name, open_step)}"
            expected = f"{head}: {measured} measured · {warmup} warm-up · {errors} err"
            self.expect(step_line == expected, "request counts", f"{where}: {step_line!r}, not {expected!r}")
            running = self.fold.step_stats(name, open_step)
            decision = first(view.decision_texts)
            if running.requests and running.slo_pct_ms is not None:
                shown = f" {ms(running.slo_pct_ms)} ms " in decision and f" n={running.requests}" in decision
                self.expect(shown, "open step's p95", f"{where}: {decision!r}")
        elif rows:
            row = max(rows, key=lambda r: r.step)
            tail = f" · {row.tail} tail" if row.tail else ""
            head = f"{row.level_text}{self.lag_said(name, row.step)}"
            expected = f"{head}: {row.requests} measured · {row.warmup} warm-up · {row.errors} err{tail}"
            self.expect(step_line == expected, "request counts", f"{where}: {step_line!r}, not {expected!r}")
            # The decision line names the same step result: its p95 and n as the CSV row has them.
            decision = first(view.decision_texts)
            shown = decision.startswith(f"{row.level_text}: ")
            if row.slo_pct_ms is not None:
                shown = (
                    shown and f" {ms(row.slo_pct_ms)} ms " in decision and f" n={row.requests}" in decision
                )
            self.expect(shown, "step result's p95", f"{where}: {decision!r} for {ms(row.slo_pct_ms)} ms")
            # The capacity line quotes the step that decided (or left undecided) the capacity: its row.
            capacity = first(view.capacity_texts)
            if match := re.search(
                r"(?:undecided|breaches) at (\d+): p\d+ \w+ ([\d,.]+|—) ms \[.*?\] n=([\d,]+)", capacity
            ):
                quoted = self.latest_row(name, float(match[1]))
                same = quoted is not None and (match[2], match[3]) == (
                    ms(quoted.slo_pct_ms),
                    f"{quoted.requests:,}",
                )
                self.expect(same, "step result's p95", f"{where}: {capacity!r}")
        else:
            self.expect(
                not re.search(r"\d", step_line), "request counts", f"{where}: {step_line!r} before a step"
            )
        # Live windows say their length; an engine that is gone shows none.
        live_lines = [first(view.tok_texts), first(view.ttft_texts), first(view.e2e_texts)]
        live_lines.append(first(view.extra_slo_texts))
        for line in filter(None, live_lines):
            if re.search(r"\d", live_numbers(line)):
                self.expect(
                    bool(WINDOW_LABEL.search(line)), "live window without its length", f"{where}: {line!r}"
                )
        if view.state_class in ("stopped", "failed"):
            gone = [line for line in filter(None, live_lines) if re.search(r"\d", live_numbers(line))]
            gone += (
                [] if re.match(r"run — wait —|run/wait not exported", view.queue_text) else [view.queue_text]
            )
            gone += [view.kv_text] if re.search(r"\d", view.kv_text.split(" of ")[0]) else []
            gone += [view.mem_text] if re.search(r"(RSS|CPU|GPU) \d", view.mem_text) else []
            self.expect(not gone, "live values of a gone engine", f"{where} ({view.state_class}): {gone}")
        if view.state_class == "stopped":
            text = view.state_text
            self.expect(not re.search(r"exit code -\d", text), "alarming stop", f"{where}: {text!r}")
            if self.detail.get(name) == "exit code -15":  # the signal named, the raw code kept
                self.expect("SIGTERM" in text and "-15" in text, "alarming stop", f"{where}: {text!r}")

    # -- the comparison strip ------------------------------------------------------------------
    def check_strip(self) -> None:
        state = self.state
        names = state.names()
        if len(names) < 2:
            return
        blocks = "\n".join(delta_lines(state)).split("\n\n")
        rows = delta_row(state).splitlines()
        for block, row in zip(blocks, rows, strict=True):
            lines = block.splitlines()
            variant, baseline = lines[0].split(" vs ")
            where = f"{variant} vs {baseline} at t={state.now:.1f}"
            source = lines[1]
            parsed = [_ratio(line) for line in lines[2:5]]
            if not self.expect(all(parsed), "ratio without its source", f"{where}: {lines[1:5]}"):
                continue
            ratios = dict(p for p in parsed if p)
            self.expect(row.startswith(f"{variant}/{baseline} {source}: "), "ratio without its source", row)
            self.expect(
                f" {ratios['tok/s'][1]} · " in row and f" {ratios['p95'][1]} · " in row, "strip vs row", row
            )
            self.check_ratios(variant, baseline, source, ratios, where)
            kv = lines[lines.index("KV free tok") + 1 : lines.index("KV free tok") + 3]
            for name, line in zip((baseline, variant), kv, strict=True):
                if self.ended(name):
                    self.expect(line.endswith("—"), "live values of a gone engine", f"{where}: KV {line!r}")

    def check_ratios(self, variant: str, baseline: str, source: str, ratios: Ratios, where: str) -> None:
        state = self.state
        self.sources[source.split(" at ")[0]] += 1
        if source.startswith("steps at "):
            level = self.level_named(baseline, source.removeprefix("steps at "))
            base, mine = self.latest_row(baseline, level), self.latest_row(variant, level)
            if not self.expect(base is not None and mine is not None, "ratio vs step results", where):
                return
            assert base is not None and mine is not None
            later = [c for c in self.common_levels(baseline, variant) if c[1] > max(base.step, mine.step)]
            self.expect(
                base.trial == mine.trial and not later, "ratio vs step results", f"{where}: not {source}"
            )
            metric = state.fold.slo_metric
            expected = {
                "tok/s": _times(mine.tok_s, base.tok_s),
                "srv": _times(mine.server_tok_s, base.server_tok_s),
                "p95": _times(mine.slo_value_ms(metric), base.slo_value_ms(metric)),
            }
            for label, (_, shown) in ratios.items():
                self.expect(
                    shown == expected[label],
                    "ratio vs step results",
                    f"{where}: {label} {shown} vs {expected[label]}",
                )
        elif source == "live":
            step = state.step
            assert step is not None and step not in state.steps_done, where
            b = math.floor(state.now)
            for name in (baseline, variant):
                loaded = not self.ended(name) and self.activity.loaded(name, step, b - state.rate_s, b)
                self.expect(
                    loaded,
                    "live ratio over unequal windows",
                    f"{where}: {name} idle in {b - state.rate_s}..{b} s",
                )
            self.check_live_against_panels(baseline, variant, ratios, where)
        else:
            shown = [value for _, value in ratios.values()]
            ok = source == "no common step" and all(value == "—" for value in shown)
            self.expect(ok, "ratio without its source", f"{where}: {source!r} {shown}")

    def check_live_against_panels(self, baseline: str, variant: str, ratios: Ratios, where: str) -> None:
        """A live ratio is the ratio of the numbers the two panels show (within their rounding)."""
        a, b = variant_view(self.state, baseline), variant_view(self.state, variant)
        tok, srv = r"\) ([\d,.—]+) ·", r"srv ([\d,.—]+)"
        line = {"ttft": "ttft_texts", "e2e": "e2e_texts"}.get(a.slo_line, "extra_slo_texts")
        pa, pb = (_panel(getattr(v, line), r"p95 ([\d,.—]+)") for v in (a, b))
        checks = [
            (
                "tok/s",
                f"tok/s {self.state.rate_s} s",
                _panel(a.tok_texts, tok),
                _panel(b.tok_texts, tok),
                0.05,
            ),
            ("srv", f"srv {self.state.rate_s} s", _panel(a.tok_texts, srv), _panel(b.tok_texts, srv), 0.05),
            ("p95", f"p95 {self.state.window_s:g} s", pa, pb, 0.5 if (pa or 0) >= 10 else 0.05),
        ]
        for key, label, value_a, value_b, rounding in checks:
            shown_label, shown = ratios[key]
            self.expect(shown_label == label, "live window without its length", f"{where}: {shown_label!r}")
            ok = _ratio_of(shown, value_a, value_b, rounding)
            self.expect(ok, "live ratio vs the panels", f"{where}: {key} {shown} vs {value_b} / {value_a}")

    def lag_said(self, name: str, step: int) -> str:
        """What a rate step's line says of its send lag, from the session's fold (the console's
        own state must agree): " · lag 4.2 ms", " · lag 31 ms BEHIND", or nothing."""
        stats = self.fold.step_stats(name, step)
        if stats.rate is None or stats.lag_p99_ms is None:
            return ""
        return f" · lag {num(stats.lag_p99_ms)} ms" + (" BEHIND" if stats.behind else "")

    def latest_row(self, name: str, level: float | None) -> StepStats | None:
        """The variant's latest finished step at this level (users, requests/s or prompt tokens)."""
        rows = [r for r in self.finished_rows(name) if r.level == level]
        return max(rows, key=lambda r: (r.trial, r.step)) if rows else None

    def level_named(self, name: str, text: str) -> float | None:
        """The level a finished step of the variant is named by ("c=8", "8 req/s", "448 tok")."""
        return next((r.level for r in self.finished_rows(name) if r.level_text == text), None)

    def common_levels(self, a: str, b: str) -> list[tuple[float, int]]:
        """(level, latest step number) of every level both finished in one trial."""
        rows_a = {(r.trial, r.level): r.step for r in self.finished_rows(a)}
        rows_b = {(r.trial, r.level): r.step for r in self.finished_rows(b)}
        return [(k[1], max(rows_a[k], rows_b[k])) for k in rows_a.keys() & rows_b.keys()]


def _ratio(line: str) -> tuple[str, tuple[str, str]] | None:
    match = re.fullmatch(r"((tok/s|srv|p95)(?: [\d.]+ s)?)\s+(×[\d.]+|—)", line)
    return (match[2], (match[1], match[3])) if match else None


def _times(mine: float | None, theirs: float | None) -> str:
    return times(mine / theirs if mine is not None and theirs else None)


def _panel(forms: tuple[str, ...] | None, pattern: str) -> float | None:
    line = first(forms)
    match = re.search(pattern, line)
    if match is None and line.endswith(" —"):  # an empty window
        return None
    assert match, f"{pattern!r} not in {line!r}"
    return number(match[1])


def _ratio_of(shown: str, a: float | None, b: float | None, rounding: float) -> bool:
    """Whether `shown` is b / a for some true values the rounded panel numbers a and b stand for."""
    if a is None or b is None or shown == "—":
        return shown == "—" or (a is not None and b is not None)
    value = number(shown)
    assert value is not None
    lo = max(0.0, b - rounding) / (a + rounding)
    hi = (b + rounding) / (a - rounding) if a > rounding else math.inf
    return lo - 0.005 <= value <= hi + 0.005
