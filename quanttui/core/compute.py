"""Where a variant's time goes, op by op, from one profiled generation (issue 18). Pure.

Input: the ops of one thread of a PyTorch profiler trace (io/torch_trace.py reads the file) and
vLLM's step annotations ("execute_context_1(37)_generation_0(0)": one request in prefill with 37
tokens, none decoding). Self time is an op's duration less the time of the ops nested in it; a
step's gaps are the time inside it that no op covers (Python, scheduling, waiting), so a step's
category times plus its gaps add up to its duration. Categories come from `CATEGORY_RULES`, a data
table of name patterns (CPU ops of vLLM-CPU, and the CUDA kernels a GPU trace carries: Marlin,
cutlass / cuBLAS GEMMs, FlashAttention / FlashInfer, Triton); a name no rule matches is "other"
and is listed by name, never hidden.
"""

from __future__ import annotations

import bisect
import functools
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

# (category, pattern): the first rule whose pattern is found in the name wins (case-insensitive).
# Order matters: a quantized GEMM's name often also says "gemm" or "mm".
CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    ("quantized GEMM", r"wna16|w4a16|w8a8|w4a8|marlin|machete|exllama|awq_gemm|gptq_gemm|gemm_w4|int4|int8_gemm"
                       r"|fp8_gemm|scaled_mm|cutlass_scaled|allspark|ggml_mul_mat|mul_mat_q"),
    ("dequantization", r"dequant|unpack_|awq_dequantize|gptq_shuffle"),
    ("dense GEMM", r"onednn_mm|weight_packed_linear|^aten::(mm|addmm|bmm|matmul|linear|baddbmm)$|cublas|cutlass|gemm|gemv|xmma"
                   r"|sm\d+_.*(gemm|hmma)|_mm$"),
    ("attention", r"attention|attn|flash|paged|rotary|rope|kv_cache|reshape_and_cache|fmha|sdpa"
                  r"|scaled_dot_product|scheduler_metadata|slot_mapping"),
    ("sampling / logits", r"argmax|topk|top_k|sampl|multinomial|logit|gumbel|^aten::sort$|log_softmax"),
    ("norms / activations", r"norm|rms|silu|gelu|relu|act_and_mul|swiglu|softmax|^aten::(mul|add|sub|div|div_|pow"
                            r"|rsqrt|mean|sum|exp|tanh|sigmoid|neg|add_|mul_|lt|gt|le|ge|eq|ne|where|clamp|maximum|minimum)$"
                            r"|elementwise|vectorized"),
    ("communication", r"nccl|all_reduce|allreduce|all_gather|reduce_scatter|broadcast|shm_|custom_ar"),
    ("memory copies", r"copy|^aten::to$|clone|contiguous|^aten::cat$|index_select|memcpy|memset|fill_|zero_"
                      r"|^aten::(stack|gather|scatter|index|index_put_|embedding)$"),
    ("tensor bookkeeping", r"^aten::(view|reshape|as_strided|empty|empty_strided|new_empty|slice|narrow|split"
                           r"|split_with_sizes|chunk|select|transpose|permute|expand|flatten|unsqueeze|squeeze"
                           r"|detach|lift_fresh|resolve_conj|resolve_neg|item|_local_scalar_dense|result_type"
                           r"|t|unbind|alias|_reshape_alias|set_|resize_|lift|numpy_T)$"),
)  # fmt: skip
OTHER = "other"
GAPS = "gaps (no op running)"
CATEGORIES = (*(name for name, _ in CATEGORY_RULES), OTHER, GAPS)
# category -> its theme variable (the console's Compute screen and the HTML report colour by it)
CATEGORY_COLOUR: dict[str, str] = {
    "dense GEMM": "compute-gemm",
    "quantized GEMM": "compute-qgemm",
    "dequantization": "compute-dequant",
    "attention": "compute-attention",
    "norms / activations": "compute-elementwise",
    "sampling / logits": "compute-sampling",
    "memory copies": "compute-copies",
    "communication": "compute-comm",
    "tensor bookkeeping": "compute-bookkeeping",
    OTHER: "compute-other",
    GAPS: "compute-gaps",
}
_COMPILED = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in CATEGORY_RULES)
_STEP = re.compile(r"execute_context_(\d+)\((\d+)\)_generation_(\d+)\((\d+)\)")
TOP_OPS = 15


@functools.lru_cache(maxsize=4096)  # a trace repeats a few hundred names ~1e6 times
def categorise(name: str) -> str:
    for category, pattern in _COMPILED:
        if pattern.search(name):
            return category
    return OTHER


@dataclass(frozen=True)
class TraceOp:
    """One op (or kernel) of the analysed thread: its name and its span in microseconds."""

    name: str
    ts_us: float
    dur_us: float


@dataclass(frozen=True)
class CategoryTime:
    category: str
    ms: float
    share: float  # of the phase's traced time


@dataclass(frozen=True)
class OpTime:
    name: str
    category: str
    calls: int
    total_ms: float
    mean_us: float


@dataclass(frozen=True)
class PhaseProfile:
    """Prefill or decode steps of one profiled generation."""

    phase: str  # "prefill", "decode", "mixed" (both in one step) or "step" (no vLLM annotation);
    # steps that ran no request are left out
    steps: int
    traced_ms: float  # the steps' durations: category self times plus gaps
    step_ms_mean: float
    step_ms_p50: float
    gap_share: float  # of traced time, inside steps with no op running
    categories: tuple[CategoryTime, ...]  # largest first, gaps included
    top_ops: tuple[OpTime, ...]  # by self time, at most TOP_OPS
    other_names: tuple[str, ...] = ()  # names no rule knows, by self time
    tokens: int = 0  # tokens processed: prompt tokens (prefill) or one per decoding request per step
    step_ms: tuple[float, ...] = ()  # each step's duration, in time order (the timeline strip)
    step_gap_ms: tuple[float, ...] = ()  # each step's gaps (no op running), same order


@dataclass(frozen=True)
class ComputeProfile:
    phases: tuple[PhaseProfile, ...]

    def phase(self, name: str) -> PhaseProfile | None:
        return next((p for p in self.phases if p.phase == name), None)


@dataclass(frozen=True)
class _Step:
    phase: str
    start: float
    end: float
    tokens: int


def _step_of(name: str, ts: float, dur: float) -> _Step:
    match = _STEP.search(name)
    if match is None:
        return _Step("step", ts, ts + dur, 0)
    ctx_reqs, ctx_tokens, gen_reqs, gen_tokens = (int(g) for g in match.groups())
    if not ctx_reqs and not gen_reqs:
        return _Step("empty", ts, ts + dur, 0)  # a step with no request (the profiler's last)
    phase = "prefill" if ctx_reqs and not gen_reqs else "decode" if gen_reqs and not ctx_reqs else "mixed"
    return _Step(phase, ts, ts + dur, ctx_tokens + gen_tokens)


def self_times(ops: Sequence[TraceOp]) -> list[float]:
    """Each op's duration less the time of the ops nested in it (one thread: nesting is by span)."""
    order = sorted(range(len(ops)), key=lambda i: (ops[i].ts_us, -ops[i].dur_us))
    child = [0.0] * len(ops)
    stack: list[int] = []
    for i in order:
        op = ops[i]
        while stack and ops[stack[-1]].ts_us + ops[stack[-1]].dur_us <= op.ts_us:
            stack.pop()
        if stack:
            parent = ops[stack[-1]]
            child[stack[-1]] += min(op.ts_us + op.dur_us, parent.ts_us + parent.dur_us) - op.ts_us
        stack.append(i)
    return [max(0.0, op.dur_us - c) for op, c in zip(ops, child, strict=True)]


def analyse(ops: Sequence[TraceOp], steps: Sequence[TraceOp], nested: bool = True) -> ComputeProfile:
    """Category times, top ops and step times per phase, from the thread's ops and its steps.

    `steps` are the step annotations; ops outside every step (the profiler's own start and stop)
    are left out, and an op's time past its step's end is not counted. Without annotations the
    whole span of the ops is one step. `nested` False (GPU kernels, which overlap across streams
    rather than nest): each kernel's self time is its duration."""
    marks = [_step_of(s.name, s.ts_us, s.dur_us) for s in steps]
    if not marks and ops:
        start = min(op.ts_us for op in ops)
        marks = [_Step("step", start, max(op.ts_us + op.dur_us for op in ops), 0)]
    marks.sort(key=lambda m: m.start)
    selfs = self_times(ops) if nested else [op.dur_us for op in ops]
    starts = [m.start for m in marks]
    by_phase: dict[str, list[int]] = defaultdict(list)
    for k, m in enumerate(marks):
        by_phase[m.phase].append(k)
    per_step_busy = [0.0] * len(marks)
    cat_us: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    op_stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for op, own in zip(ops, selfs, strict=True):
        k = bisect.bisect_right(starts, op.ts_us) - 1
        if k < 0 or op.ts_us >= marks[k].end:
            continue  # outside every step
        phase = marks[k].phase
        own = min(own, marks[k].end - op.ts_us)
        per_step_busy[k] += own
        cat_us[phase][categorise(op.name)] += own
        op_stats[phase][op.name].append(own)
    phases = []
    for phase in ("prefill", "decode", "mixed", "step"):
        members = by_phase.get(phase)
        if not members:
            continue
        durations = [marks[k].end - marks[k].start for k in members]
        traced = sum(durations)
        gaps = sum(max(0.0, marks[k].end - marks[k].start - per_step_busy[k]) for k in members)
        times = dict(cat_us[phase])
        times[GAPS] = gaps
        categories = tuple(
            CategoryTime(c, round(us / 1000, 3), round(us / traced, 4) if traced else 0.0)
            for c, us in sorted(times.items(), key=lambda kv: -kv[1])
            if us > 0
        )
        ranked = sorted(op_stats[phase].items(), key=lambda kv: -sum(kv[1]))
        top = tuple(
            OpTime(name, categorise(name), len(v), round(sum(v) / 1000, 3), round(sum(v) / len(v), 2))
            for name, v in ranked[:TOP_OPS]
        )
        others = tuple(name for name, _ in ranked if categorise(name) == OTHER)
        phases.append(
            PhaseProfile(
                phase=phase,
                steps=len(members),
                traced_ms=round(traced / 1000, 3),
                step_ms_mean=round(statistics.fmean(durations) / 1000, 3),
                step_ms_p50=round(statistics.median(durations) / 1000, 3),
                gap_share=round(gaps / traced, 4) if traced else 0.0,
                categories=categories,
                top_ops=top,
                other_names=others,
                tokens=sum(marks[k].tokens for k in members),
                step_ms=tuple(round(d / 1000, 3) for d in durations),
                step_gap_ms=tuple(
                    round(max(0.0, marks[k].end - marks[k].start - per_step_busy[k]) / 1000, 3)
                    for k in members
                ),
            )
        )
    return ComputeProfile(tuple(phases))
