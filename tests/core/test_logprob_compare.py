"""KL and top-1 agreement from top-k logprobs, and the vLLM shapes they are read from."""

import math

import pytest

from quanttui.core.logprob_compare import (
    LogprobFormatError,
    compare,
    divergence_from_api,
    parse_prompt_entry,
    parse_stream_entry,
    parse_token_id,
    position_kl,
)


def dist(*probs):
    return {i: math.log(p) for i, p in enumerate(probs)}


def test_kl_is_zero_for_identical_and_grows_with_the_difference():
    p = dist(0.6, 0.3, 0.05)
    assert position_kl(p, p) == pytest.approx(0.0, abs=1e-12)
    small = position_kl(p, dist(0.55, 0.33, 0.07))
    large = position_kl(p, dist(0.2, 0.6, 0.1))
    assert 0 < small < large
    # A token the variant did not return gets its smallest returned probability: never negative.
    assert position_kl(p, {0: math.log(0.9)}) > 0


def test_top1_agreement_counts_the_positions_where_the_argmax_is_the_reference_token():
    reference = [(0, dist(0.6, 0.4)), (1, dist(0.3, 0.7)), (0, dist(0.9, 0.1))]
    variant = [dist(0.7, 0.3), dist(0.8, 0.2), dist(0.6, 0.4)]
    mean_kl, top1 = compare(reference, variant)
    assert top1 == pytest.approx(2 / 3)
    assert mean_kl > 0
    assert compare([], []) == (None, None)


# Shapes as vLLM 0.32 sends them (seen on the demo engines): streamed chat logprobs with
# return_tokens_as_token_ids, and /v1/completions prompt_logprobs keyed by token id strings.
STREAM = [
    {"token": "token_id:504", "logprob": -0.01, "bytes": [84], "top_logprobs": [
        {"token": "token_id:504", "logprob": -0.01, "bytes": [84]}, {"token": "token_id:9", "logprob": -4.8}]},
    {"token": "token_id:77", "logprob": -1.2, "top_logprobs": [
        {"token": "token_id:12", "logprob": -0.5}, {"token": "token_id:77", "logprob": -1.2}]},
]  # fmt: skip
SCORED = [
    None,
    {"11": {"logprob": -0.3, "rank": 1, "decoded_token": "a"}},
    {"504": {"logprob": -0.02, "rank": 1, "decoded_token": "T"}, "9": {"logprob": -4.0, "rank": 2}},
    {"12": {"logprob": -0.4, "rank": 1}, "77": {"logprob": -1.5, "rank": 2}},
]


def test_divergence_from_the_api_shapes():
    result = divergence_from_api("p", "awq", "bf16", STREAM, 2, SCORED)
    assert (
        result.positions == 2 and result.top1_agreement == 0.5
    )  # position 2: variant prefers 12, ref chose 77
    assert 0 < result.mean_kl < 0.1
    with pytest.raises(LogprobFormatError, match="prompt_logprobs: 4 positions"):
        divergence_from_api("p", "awq", "bf16", STREAM, 3, SCORED)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: parse_token_id("504"), "token"),
        (lambda: parse_stream_entry({"token": "token_id:1", "top_logprobs": "x"}), "top_logprobs"),
        (lambda: parse_stream_entry({"token": "token_id:1", "top_logprobs": [{"token": "token_id:2"}]}),
         "top_logprobs[].logprob"),
        (lambda: parse_prompt_entry({"abc": {"logprob": -1}}), "key 'abc'"),
        (lambda: parse_prompt_entry({"5": {"logprob": "high"}}), "logprob"),
        (lambda: parse_prompt_entry(None), "prompt_logprobs[]"),
    ],
)  # fmt: skip
def test_malformed_logprobs_name_the_field(call, field):
    with pytest.raises(LogprobFormatError) as err:
        call()
    assert field in str(err.value)
