"""Percentile intervals cover the truth as often as they say, and SLO decisions err no more often
than their confidence allows (simulated draws from distributions with a known p95)."""

import math
import random

import pytest

from quanttui.core.intervals import quantile_interval, requests_to_meet, slo_decision

DRAWS = 1000


@pytest.mark.parametrize("n", [80, 200, 1000])
@pytest.mark.parametrize("name", ["exponential", "lognormal"])
def test_the_95_interval_of_the_p95_covers_the_truth_at_least_95_percent_of_the_time(n, name):
    rng = random.Random(n)
    if name == "exponential":
        draw, truth = (lambda: rng.expovariate(1.0)), -math.log(0.05)
    else:  # lognormal(0, 1): p95 = exp(1.6449)
        draw, truth = (lambda: rng.lognormvariate(0.0, 1.0)), math.exp(1.6448536)
    covered = 0
    for _ in range(DRAWS):
        low, high = quantile_interval([draw() for _ in range(n)], 0.95)
        covered += (low is None or low <= truth) and (high is None or truth <= high)
    assert covered / DRAWS >= 0.95 - 0.015  # 1.5 points: the sampling error of 1,000 draws


def test_meeting_the_slo_at_95_percent_needs_59_requests_all_within_and_more_with_one_over():
    assert requests_to_meet(0.95, 0.95) == 59
    assert slo_decision([1.0] * 59, 0.95, 2.0) == "meets"
    assert slo_decision([1.0] * 58, 0.95, 2.0) == "undecided"
    assert slo_decision([1.0] * 58 + [3.0], 0.95, 2.0) == "undecided"
    assert slo_decision([1.0] * 92 + [3.0], 0.95, 2.0) == "meets"  # one over: 93 decide it


def test_a_clear_breach_is_decided_in_a_handful():
    assert slo_decision([1.0] * 5 + [3.0] * 3, 0.95, 2.0) == "breaches"
    assert slo_decision([1.0] * 6 + [3.0] * 2, 0.95, 2.0) == "undecided"
    assert slo_decision([], 0.95, 2.0) == "undecided"


@pytest.mark.parametrize("n", [30, 100])
def test_the_decision_is_wrong_at_most_5_percent_of_the_time_at_the_boundary(n):
    """With the SLO exactly at the true p95 neither "meets" nor "breaches" is true: each may be
    said at most 5 % of the time."""
    rng = random.Random(7 + n)
    truth = -math.log(0.05)
    said = {"meets": 0, "breaches": 0, "undecided": 0}
    for _ in range(DRAWS):
        said[slo_decision([rng.expovariate(1.0) for _ in range(n)], 0.95, truth)] += 1
    assert said["meets"] / DRAWS <= 0.05 + 0.015 and said["breaches"] / DRAWS <= 0.05 + 0.015
