"""Runs side by side: a capacity is an interval, and runs differ only where intervals are apart."""

import json
import math

import pytest

from quanttui.core.capacity import VariantCapacity
from quanttui.core.compare import (
    capacity_interval,
    compare_markdown,
    differing_settings,
    pair_sentences,
    runs_summary,
)
from quanttui.core.compare_run import CompareInputError, CompareRun, LevelPoint, run_from_json
from quanttui.core.levels import LevelKind

SETTINGS = {
    "SLO": "p95 e2e <= 3,000 ms",
    "workload": "closed loop (concurrent users)",
    "output tokens": "128",
}


def cap(variant: str, holds: float | None, breaches: float | None, status: str = "decided", tok_s=None):
    return VariantCapacity(
        variant=variant, precision=variant, metric="e2e", slo_ms=3000.0, steps=4, max_conc_meeting_slo=holds,
        first_conc_over_slo=breaches, breach="", blowup_conc=None, blowup_detail="", peak_tok_s=None,
        tok_s_at_max_safe=tok_s, p95_at_max_safe_ms=None, batch1_tok_s=None, status=status,
    )  # fmt: skip


def point(variant, level, pct, lo, hi):
    return LevelPoint(variant, 0, level, pct, lo, hi, "meets", 100.0, 1.0, 1.0)


def run(label, caps, points=(), settings=SETTINGS, usd=None, where="NVIDIA L4"):
    return CompareRun(label=label, where=where, usd_per_hour=usd, settings=dict(settings),
                      kind=LevelKind.CONCURRENCY, metric="e2e", percentile=95.0, slo_ms=3000.0,
                      capacities=tuple(caps), points=tuple(points))  # fmt: skip


def test_a_capacity_is_an_interval_from_what_was_decided():
    assert capacity_interval(cap("a", 8, 16)) == (8, 16)
    assert capacity_interval(cap("a", None, 1, status="never met")) == (0.0, 1)
    assert capacity_interval(cap("a", 4, None, status="undecided")) == (4, math.inf)
    assert capacity_interval(cap("a", 16, None, status="not reached")) == (16, math.inf)


def test_apart_intervals_say_which_holds_more_and_overlapping_ones_do_not_differ():
    rtx = run("RTX", [cap("awq", 24, 32, tok_s=900.0)], usd=0.85, where="NVIDIA RTX 2000 Ada")
    l4 = run("L4", [cap("bf16", 16, 24, tok_s=700.0)], usd=0.80)
    (sentence,) = pair_sentences([rtx, l4])
    assert sentence.startswith("RTX: awq on NVIDIA RTX 2000 Ada holds 24 for $0.85/h; L4: bf16 on NVIDIA L4 holds 16 "
                               "for $0.80/h: RTX awq holds more than L4 bf16")  # fmt: skip
    assert "[24, 32) vs [16, 24)" in sentence
    assert "$/1M output tokens at the SLO 0.26 vs 0.32" in sentence
    close = run("L4", [cap("bf16", 16, None, status="undecided")])
    (sentence,) = pair_sentences([rtx, close])
    assert "their capacities do not differ: [24, 32) and [16, ∞) overlap" in sentence
    assert "holds more" not in sentence


def test_step_percentiles_are_compared_by_their_intervals():
    a = run("a", [cap("awq", 4, 8)], [point("awq", 1, 900, 800, 1000), point("awq", 2, 1500, 1400, 1600)])
    b = run("b", [cap("awq", 4, 8)], [point("awq", 1, 950, 850, 1050), point("awq", 2, 2500, 2300, 2700)])
    (sentence,) = pair_sentences([a, b])
    assert "their capacities do not differ" in sentence
    assert "their p95 e2e differs at c=2: 1,500 ms [1,400, 1,600] vs 2,500 ms [2,300, 2,700]" in sentence
    assert "c=1" not in sentence.split("differs at")[1]  # overlapping at c=1: not named


def test_different_settings_are_flagged_in_every_sentence_and_the_table():
    a = run("a", [cap("awq", 4, 8), cap("bf16", 2, 4)])
    b = run("b", [cap("awq", 4, 8), cap("bf16", 2, 4)], settings=SETTINGS | {"SLO": "p95 e2e <= 5,000 ms"})
    assert differing_settings([a, b]) == {"SLO": ["p95 e2e <= 3,000 ms", "p95 e2e <= 5,000 ms"]}
    sentences = pair_sentences([a, b])
    assert len(sentences) == 4 and all(s.endswith("Settings differ (SLO): not a like-for-like comparison.")
                                       for s in sentences)  # fmt: skip
    assert sentences[0].startswith("a: awq") and sentences[1].startswith("a: bf16")  # same variant first
    markdown = compare_markdown([a, b])
    assert "| SLO | p95 e2e <= 3,000 ms | p95 e2e <= 5,000 ms |" in markdown


def test_report_json_round_trip_and_bad_fields():
    original = run("x", [cap("awq", 4, 8, tok_s=10.0)], [point("awq", 1, 900, 800, 1000)], usd=1.5)
    data = json.loads(json.dumps(original.to_json()))
    again = run_from_json(data, "", "somewhere")
    assert again.capacities == original.capacities and again.points == original.points
    assert again.label == "x" and again.usd_per_hour == 1.5 and again.source == "somewhere"
    with pytest.raises(CompareInputError, match="field 'capacities': missing"):
        run_from_json({k: v for k, v in data.items() if k != "capacities"}, "", "")
    with pytest.raises(CompareInputError, match="version 99 is newer"):
        run_from_json(data | {"report_json": 99}, "", "")
    with pytest.raises(CompareInputError, match="not a quanttui report.json"):
        run_from_json(data | {"kind": "sideways"}, "", "")


def test_a_decided_breach_above_an_undecided_step_still_bounds_the_capacity():
    undecided = cap("awq", None, None, status="undecided")
    breach = LevelPoint("awq", 0, 8, 9000, 8500, None, "breaches", 10.0, 0.1, 1.0)
    assert capacity_interval(undecided, [breach]) == (0.0, 8)
    assert capacity_interval(undecided, []) == (0.0, math.inf)


def test_the_runs_summary_says_how_two_runs_differ():
    a = run(
        "monday", [cap("awq", 4, 8)], [point("awq", 1, 900, 800, 1000), point("awq", 8, 9000, 8500, 9500)]
    )
    b = run("tuesday", [cap("awq", 4, 8)], [point("awq", 1, 950, 850, 1050)], where="NVIDIA RTX 2000 Ada",
            settings=SETTINGS | {"output tokens": "256"})  # fmt: skip
    summary = runs_summary(a, b)
    assert summary.startswith("monday vs tuesday: settings differ (output tokens); machines NVIDIA L4 vs NVIDIA "
                              "RTX 2000 Ada; awq ran up to c=8 vs c=1; no figure with an interval tells them apart")  # fmt: skip
    c = run("wednesday", [cap("awq", 16, 32)], [point("awq", 1, 400, 350, 450)])
    assert "apart at 95 %: awq's capacity, awq's p95 e2e at some levels" in runs_summary(a, c)
