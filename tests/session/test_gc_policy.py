"""Full collections are held back while a ramp runs and the thresholds come back after it."""

import gc

import pytest

from quanttui.session.gc_policy import HELD_THRESHOLD2, full_collections_between_steps


def test_generation_2_waits_for_the_steps_end_and_the_thresholds_return():
    before = gc.get_threshold()
    with full_collections_between_steps():
        assert gc.get_threshold() == (before[0], before[1], HELD_THRESHOLD2)
        young, full = gc.get_stats()[1]["collections"], gc.get_stats()[2]["collections"]
        kept = [[i] for i in range(300_000)]  # survivors: generations 0 and 1 run, then 2 would
        assert gc.get_stats()[1]["collections"] > young
        assert gc.get_stats()[2]["collections"] == full
        del kept
    assert gc.get_threshold() == before


def test_the_thresholds_return_when_the_ramp_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), full_collections_between_steps():
        raise RuntimeError("the ramp failed")
    assert gc.get_threshold() == before
