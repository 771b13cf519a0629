"""Arrival schedules against their distributions: the mean rate, the gamma's coefficient of variation
(1/sqrt(burstiness), vllm bench serve's definition), constant gaps, reproducible seeds."""

import math
import statistics

import pytest

from quanttui.core.arrivals import ArrivalKind, Arrivals, parse_rates

N = 20_000


@pytest.mark.parametrize(
    ("arrivals", "cv"),
    [
        (Arrivals(ArrivalKind.POISSON, seed=1), 1.0),
        (Arrivals(ArrivalKind.GAMMA, burstiness=0.25, seed=2), 2.0),
        (Arrivals(ArrivalKind.GAMMA, burstiness=4.0, seed=3), 0.5),
        (Arrivals(ArrivalKind.CONSTANT), 0.0),
    ],
    ids=lambda a: a.describe() if isinstance(a, Arrivals) else f"cv {a}",
)
def test_gaps_have_the_rate_and_the_spread_of_their_distribution(arrivals, cv):
    gaps = arrivals.gaps(8.0, N)
    mean = statistics.fmean(gaps)
    # the mean of N gaps with CV c has a standard error of c / sqrt(N) relative: 5 of those is a wide margin
    assert mean == pytest.approx(1 / 8.0, rel=max(5 * cv / math.sqrt(N), 1e-12))
    measured_cv = statistics.pstdev(gaps) / mean
    assert measured_cv == pytest.approx(cv, abs=0.05 * max(cv, 1.0))


def test_a_step_s_schedule_is_the_same_every_run_and_differs_between_steps():
    a = Arrivals(ArrivalKind.POISSON, seed=7)
    assert a.offsets(4.0, 50, step=3) == Arrivals(ArrivalKind.POISSON, seed=7).offsets(4.0, 50, step=3)
    assert a.offsets(4.0, 50, step=3) != a.offsets(4.0, 50, step=4)
    assert a.offsets(4.0, 50, step=3) != Arrivals(ArrivalKind.POISSON, seed=8).offsets(4.0, 50, step=3)
    offsets = a.offsets(4.0, 50)
    assert offsets == sorted(offsets) and offsets[0] > 0


def test_bad_values_say_what_is_wrong():
    with pytest.raises(ValueError, match="burstiness must be > 0"):
        Arrivals(ArrivalKind.GAMMA, burstiness=0)
    with pytest.raises(ValueError, match="gamma arrivals only"):
        Arrivals(ArrivalKind.POISSON, burstiness=2)
    with pytest.raises(ValueError, match="rate must be > 0"):
        Arrivals().gaps(0.0, 3)
    assert parse_rates("1, 2.5,8") == (1.0, 2.5, 8.0)
    with pytest.raises(ValueError, match="'x' is not a number"):
        parse_rates("1,x")
    with pytest.raises(ValueError, match="'-1': a rate must be > 0"):
        parse_rates("-1")


def test_round_trips_through_the_header():
    a = Arrivals(ArrivalKind.GAMMA, burstiness=0.5, seed=11)
    assert Arrivals.from_dict(a.to_dict()) == a
