"""Reading a PyTorch profiler trace off the session's loop (issue 18)."""

from pathlib import Path

import pytest


async def test_a_trace_is_analysed_in_a_child_process_and_errors_come_back(tmp_path):
    """analyse_trace (what a capture uses) gives the same profile as analysing in this process,
    and a damaged trace is the same one-line TraceError."""
    from quanttui.core.compute import analyse
    from quanttui.io.profile_capture import analyse_trace
    from quanttui.io.torch_trace import TraceError, read_trace

    path = Path(__file__).parents[1] / "data" / "traces" / "vllm-cpu-smol-awq-3steps.pt.trace.json.gz"
    trace = read_trace(path)
    assert await analyse_trace(path) == analyse(trace.ops, trace.steps, trace.nested)
    bad = tmp_path / "bad.pt.trace.json"
    bad.write_text("{not json")
    with pytest.raises(TraceError, match="bad.pt.trace.json"):
        await analyse_trace(bad)
