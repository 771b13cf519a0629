"""Answer-length distributions (core/lengths.py): their forms, their draws, their seeds."""

import statistics

import pytest

from quanttui.core.lengths import LengthDist, parse_lengths


def draws(dist: LengthDist, n: int = 4000) -> list[int]:
    return [dist.draw(0, i) for i in range(n)]


def test_each_form_draws_what_it_says():
    assert set(draws(parse_lengths("64"), 50)) == {64}
    uniform = draws(parse_lengths("uniform:10-20"))
    assert min(uniform) == 10 and max(uniform) == 20 and abs(statistics.mean(uniform) - 15) < 0.3
    normal = draws(parse_lengths("normal:200,40"))
    assert abs(statistics.mean(normal) - 200) < 3 and abs(statistics.stdev(normal) - 40) < 3
    hist = draws(parse_lengths("hist:64=3,512=1"))
    assert set(hist) == {64, 512} and abs(hist.count(64) / len(hist) - 0.75) < 0.03
    assert parse_lengths("hist:64=3,512=1").mean() == 176


def test_draws_are_the_same_for_every_variant_and_differ_by_seed_and_step():
    a, b = parse_lengths("uniform:1-1000", seed=1), parse_lengths("uniform:1-1000", seed=1)
    assert draws(a, 100) == draws(b, 100)
    assert draws(a, 100) != draws(parse_lengths("uniform:1-1000", seed=2), 100)
    assert [a.draw(0, i) for i in range(50)] != [a.draw(1, i) for i in range(50)]
    assert LengthDist.from_dict(a.to_dict()) == a


@pytest.mark.parametrize("text", ["0", "uniform:20-10", "normal:5", "hist:64", "hist:64=0", "gamma:1,2", "x"])
def test_a_bad_length_says_what_a_good_one_looks_like(text):
    with pytest.raises(ValueError, match="N, uniform:LO-HI, normal:MEAN,SD or hist:N=W"):
        parse_lengths(text)
