"""How far a quantized model's next-token distribution is from the reference's, from top-k logprobs.

Along the reference's own greedy continuation (teacher-forced), at every position:
- P: the reference's top-k logprobs, from its streamed answer (`logprobs.content[i].top_logprobs`,
  token ids via vLLM's `return_tokens_as_token_ids`);
- Q: the variant's logprobs at the same position, from scoring prompt + continuation with
  `prompt_logprobs` (its top-k, plus the actual token).

KL(P || Q) is computed over the partition {each of P's top-k tokens} + {everything else}: P's mass
outside its top-k is the "rest" bucket. A token of P's top-k that Q did not return gets Q's
smallest returned probability (no unseen token can be more likely than that); Q's rest bucket is
what is left of 1. Coarse-graining never increases KL, so with complete data this is a lower bound
of the full-vocabulary KL; it is exactly 0 when both sides agree, and never negative. Top-1
agreement: the share of positions where Q's most likely token is the reference's greedy token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from quanttui.core.triage import Divergence

_EPS = 1e-12


class LogprobFormatError(ValueError):
    """A logprobs structure that is not what vLLM sends; names the field."""


def parse_token_id(token: object) -> int:
    """vLLM's `return_tokens_as_token_ids` form: "token_id:123" -> 123."""
    if isinstance(token, str) and token.startswith("token_id:"):
        try:
            return int(token[len("token_id:") :])
        except ValueError:
            pass
    raise LogprobFormatError(f"token: expected 'token_id:<int>', got {str(token)[:40]!r}")


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise LogprobFormatError(f"{field}: expected a number")
    return float(value)


def parse_stream_entry(entry: object) -> tuple[int, dict[int, float]]:
    """One `logprobs.content[i]` of a streamed chat answer: (chosen id, {id: logprob} of its top-k)."""
    if not isinstance(entry, dict):
        raise LogprobFormatError("logprobs.content[]: expected an object")
    chosen = parse_token_id(entry.get("token"))
    top = entry.get("top_logprobs")
    if not isinstance(top, list):
        raise LogprobFormatError("top_logprobs: expected a list")
    dist: dict[int, float] = {}
    for item in top:
        if not isinstance(item, dict):
            raise LogprobFormatError("top_logprobs[]: expected an object")
        dist[parse_token_id(item.get("token"))] = _number(item.get("logprob"), "top_logprobs[].logprob")
    if chosen not in dist:
        dist[chosen] = _number(entry.get("logprob"), "logprob")
    return chosen, dist


def parse_prompt_entry(entry: object) -> dict[int, float]:
    """One position of `prompt_logprobs`: {"123": {"logprob": ..., "rank": ...}, ...} -> {123: logprob}."""
    if not isinstance(entry, dict):
        raise LogprobFormatError("prompt_logprobs[]: expected an object")
    dist: dict[int, float] = {}
    for key, value in entry.items():
        try:
            token = int(key)
        except (TypeError, ValueError):
            raise LogprobFormatError(
                f"prompt_logprobs[] key {str(key)[:20]!r}: expected a token id"
            ) from None
        if not isinstance(value, dict):
            raise LogprobFormatError("prompt_logprobs[][id]: expected an object")
        dist[token] = _number(value.get("logprob"), "prompt_logprobs[][id].logprob")
    return dist


def position_kl(p_logprobs: dict[int, float], q_logprobs: dict[int, float]) -> float:
    """KL(P || Q) over P's top-k tokens plus one bucket for the rest (see the module docstring)."""
    p = {t: math.exp(lp) for t, lp in p_logprobs.items()}
    p_rest = max(0.0, 1.0 - sum(p.values()))
    floor = math.exp(min(q_logprobs.values())) if q_logprobs else _EPS
    q = {t: math.exp(q_logprobs[t]) if t in q_logprobs else floor for t in p}
    total_q = sum(q.values())
    if total_q > 1.0:  # estimates for missing tokens overshot: keep Q a distribution
        q = {t: v / total_q for t, v in q.items()}
        total_q = 1.0
    q_rest = max(0.0, 1.0 - total_q)
    kl = sum(pv * math.log(pv / max(q[t], _EPS)) for t, pv in p.items() if pv > 0)
    if p_rest > 1e-9:
        kl += p_rest * math.log(p_rest / max(q_rest, _EPS))
    return max(0.0, kl)


def compare(
    reference: Sequence[tuple[int, dict[int, float]]], variant: Sequence[dict[int, float]]
) -> tuple[float | None, float | None]:
    """(mean KL, top-1 agreement) over aligned positions."""
    n = min(len(reference), len(variant))
    if n == 0:
        return None, None
    kls = []
    agree = 0
    for (chosen, p), q in zip(reference[:n], variant[:n], strict=True):
        kls.append(position_kl(p, q))
        if q and max(q, key=q.__getitem__) == chosen:
            agree += 1
    return sum(kls) / n, agree / n


def divergence_from_api(
    prompt_id: str,
    variant: str,
    reference: str,
    reference_entries: Sequence[object],
    prompt_len: int,
    scored: Sequence[object],
) -> Divergence:
    """From the reference's streamed logprobs and the variant's `prompt_logprobs` of prompt +
    continuation (`prompt_len` prompt tokens first)."""
    ref = [parse_stream_entry(e) for e in reference_entries]
    tail = list(scored[prompt_len : prompt_len + len(ref)])
    if len(tail) < len(ref):
        raise LogprobFormatError(
            f"prompt_logprobs: {len(scored)} positions for {prompt_len} prompt + {len(ref)} answer tokens"
        )
    var = [parse_prompt_entry(e) for e in tail]
    mean_kl, top1 = compare(ref, var)
    detail = "" if ref else "the reference answer has no tokens"
    return Divergence(prompt_id, variant, reference, len(ref), mean_kl, top1, detail)
