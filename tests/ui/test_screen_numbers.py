"""Every shipped recording replayed frame by frame: what the console shows agrees with the step
results and with itself.

Each recording runs through a real `ReplaySession` (as fast as possible); a tap on its stream folds
every event into the console's own `LiveState`, as the app's bridge does, and at every frame (each
second of session time, each `StepFinished`, the end) renders the panels' words (ui/views.py) and
checks them against the session's fold, whose `StepStats` are what sweep.csv gets (written and
read back at the end), and against each other:

- a finished step's request counts, p95 and n on screen are its step result's;
- a ratio in the comparison strip says its source: step results at a named concurrency (then it
  is the ratio of those rows) or live windows, shown only while both variants were loaded over the
  whole window (checked on the recording's own request times, future included) and equal to the
  ratio of the numbers the two panels show;
- every latency or tok/s number from a live window carries the window's length;
- an engine that stopped or failed shows "—" for its live values, and a stop by the SIGTERM that
  quanttui sent does not read like a failure.

Then the running app (widgets and fitted lines) at the end of each shipped ramp recording, against
the rows of sweep.csv.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from console_helpers import replay_app, settle
from screen_checker import Activity, Checker

from quanttui.core.live import LiveState
from quanttui.core.loadplan import Schedule
from quanttui.io.export import write_sweep_csv
from quanttui.io.recording_file import fold_recording, read_recording
from quanttui.session import ReplaySession
from quanttui.ui.format import ms, num, times
from quanttui.ui.run import finish_session
from quanttui.ui.widgets.text import LiteralLine
from quanttui.ui.widgets.variant import VariantColumn

ROOT = Path(__file__).parents[2]
SHIPPED = sorted(p for p in (ROOT / "recordings").glob("*.jsonl") if not p.name.endswith(".tags.jsonl"))
RECORDINGS = [*SHIPPED, ROOT / "tests/data/recordings/ui-sim.jsonl"]


@pytest.mark.parametrize("source", RECORDINGS, ids=lambda p: p.stem)
async def test_every_frame_of_a_shipped_recording_agrees_with_the_step_results(source: Path, tmp_path: Path):
    path = tmp_path / source.name
    shutil.copy(source, path)
    _, events = read_recording(path)
    session = ReplaySession(path, speed=None)
    info = session.info
    state = LiveState(info.plan, list(info.variants))
    state.set_hardware(info.header.config or {})
    checker = Checker(state, session.fold, Activity.of(events))
    session.stream.tap(checker.on_event)  # after the session's fold: it has the event first
    await session.run()
    checker.frame()  # the end, as the console holds it
    problems = {kind: f"{len(found)} frames, e.g. {found[:2]}" for kind, found in checker.problems.items()}
    assert not problems, problems

    # Everything the console folded itself is what the session's fold has, which is sweep.csv.
    stats = session.fold.all_step_stats()
    assert sorted(state.step_rows.values(), key=lambda r: (r.step, r.variant)) == sorted(
        stats, key=lambda r: (r.step, r.variant)
    )
    write_sweep_csv(stats, tmp_path / "sweep.csv")
    with (tmp_path / "sweep.csv").open(newline="") as handle:
        rows = {(r["variant"], int(r["step"])): r for r in csv.DictReader(handle)}
    assert len(rows) == len(stats)
    for s in stats:
        row = rows[(s.variant, s.step)]
        counts = tuple(int(float(row[c])) for c in ("requests", "warmup", "errors"))
        assert counts == (s.requests, s.warmup, s.errors)
        for column in ("tok_s", "p95_ms", "server_tok_s"):
            value, written = getattr(s, column), row[column]
            assert (None if written == "" else float(written)) == (
                None if value is None else pytest.approx(value)
            )
    assert checker.frames > 10
    if stats:  # a ramp: its strip compared step results, and (real engines' steps are long enough)
        assert checker.sources["steps"] > 0, dict(checker.sources)  # live windows while both were loaded
        together = info.plan is not None and info.plan.schedule is not Schedule.ALTERNATE
        assert checker.sources["live"] > 0 or source not in SHIPPED or not together, dict(checker.sources)
        if not together:  # one variant at a time: never a live ratio (it needs both loaded at once)
            assert checker.sources["live"] == 0


def level_of(row: dict[str, str]) -> str:
    """A sweep.csv row's step as the console names it: c=8, 8 req/s or 448 tok."""
    if row["rate"]:
        return f"{float(row['rate']):g} req/s"
    if row["input_tokens"]:
        return f"{int(row['input_tokens'])} tok"
    return f"c={row['conc']}"


def lag_of(row: dict[str, str]) -> str:
    """What a rate step's line says of its send lag, from the CSV's lag_p99_ms and behind."""
    if not row["rate"] or not row["lag_p99_ms"]:
        return ""
    return f" · lag {num(float(row['lag_p99_ms']))} ms" + (
        " BEHIND" if row["behind"].lower() == "true" else ""
    )


RAMPS = [
    p for p in SHIPPED if "triage" not in p.name and "profile" not in p.name
]  # recordings with load steps


@pytest.mark.parametrize("source", RAMPS, ids=lambda p: p.stem)
async def test_the_console_at_the_end_of_a_shipped_replay_shows_the_csv_rows(source: Path, tmp_path: Path):
    """The same through the running app (widgets, fitted lines): what a 200x60 terminal shows."""
    path = tmp_path / source.name
    shutil.copy(source, path)
    write_sweep_csv(fold_recording(path).fold.all_step_stats(), tmp_path / "sweep.csv")
    with (tmp_path / "sweep.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle)]
    names = list(dict.fromkeys(r["variant"] for r in rows))

    def last(name: str, level: str | None = None) -> dict[str, str]:
        mine = [r for r in rows if r["variant"] == name and level in (None, level_of(r))]
        return max(mine, key=lambda r: int(r["step"]))

    app = replay_app(tmp_path, path)
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            await settle(app, pilot)
            for column in app.screen.query(VariantColumn):
                row = last(column.variant)
                counts = f"{level_of(row)}{lag_of(row)}: {int(float(row['requests']))} measured · {int(float(row['warmup']))} warm-up"
                assert column.query_one(".step-line", LiteralLine).value.startswith(counts)
                decision = column.query_one(".decision-line", LiteralLine).value
                assert (
                    decision.startswith(f"{level_of(row)}: ") and f" {ms(float(row['p95_ms']))} " in decision
                )
            strip = app.screen.query_one("#delta", LiteralLine).value
            base = names[0]
            for name in names[1:]:
                levels = {level_of(r) for r in rows if r["variant"] == name} & {
                    level_of(r) for r in rows if r["variant"] == base
                }
                conc = max(levels, key=lambda c: max(int(last(n, c)["step"]) for n in (name, base)))
                mine, theirs = last(name, conc), last(base, conc)
                tok = times(float(mine["tok_s"]) / float(theirs["tok_s"]))
                p95 = times(float(mine["p95_ms"]) / float(theirs["p95_ms"]))
                if len(names) == 2:
                    assert f"steps at {conc}\ntok/s     {tok}\n" in strip and f"\np95       {p95}\n" in strip
                else:
                    assert f"{name}/{base} steps at {conc}: tok/s {tok} · p95 {p95} · " in strip
    finally:
        await finish_session(app, grace_s=10)
