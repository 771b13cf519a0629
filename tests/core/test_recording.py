import asyncio
import json
from pathlib import Path

import pytest

from quanttui.core.compute import GAPS, CategoryTime, ComputeProfile, OpTime, PhaseProfile
from quanttui.core.compute_events import ProfileCaptured, ProfileFinished, ProfileStarted, ProfileUnavailable
from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    GpuProcess,
    GpuSample,
    GpuUnavailable,
    InstanceState,
    LogLine,
    MetricsUnavailable,
    OperatorNote,
    ReplayStatus,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.recording import (
    SCHEMA_VERSION,
    RecordingError,
    RecordingHeader,
    decode_event,
    encode_event,
)
from quanttui.core.stream import SessionStream
from quanttui.core.triage import Flag
from quanttui.core.triage_events import (  # fmt: skip
    TriageAnswer,
    TriageDivergence,
    TriageFinished,
    TriagePrompt,
    TriageStarted,
    TriageTagged,
)
from quanttui.io.recording_file import Recorder, read_recording
from quanttui.session.replay_control import ControlledReplayer

SAMPLES = [
    EndpointInfo(t=0.0, variant="bf16", url="http://127.0.0.1:1", model="m", precision="bf16", pids=(10, 11)),
    InstanceState(t=0.1, variant="bf16", state="ready", detail="ok"),
    LogLine(t=0.2, variant="bf16", line="[bold]not markup[/] \x1b[31mred", stream="stderr"),
    GpuUnavailable(t=0.3, reason="NVML unavailable"),
    GpuSample(t=0.4, index=0, name="RTX", mem_total_mib=16380.0, mem_used_mib=9000.5, util_pct=None,
              power_w=70.1, processes=(GpuProcess(10, 4000.0), GpuProcess(11, 12.5))),
    EngineSample(t=0.5, variant="bf16", kv_cache_usage=0.25, running=4.0, waiting=12.0,
                 generation_tokens_total=100.0, prompt_tokens_total=50.0, preemptions_total=0.0,
                 generation_tok_s=None, prompt_tok_s=1.5, num_gpu_blocks=12, block_size=128,
                 kv_cache_size_tokens=1536),
    MetricsUnavailable(t=0.6, variant="bf16", reason="connect refused"),
    StepStarted(t=1.0, step=0, concurrency=4, requests=10, seconds=None, warmup_requests=1, variants=("bf16", "awq")),
    RequestResult(t=2.0, variant="bf16", step=0, index=3, warmup=False, start=1.1, ok=True, ttft=0.2012345678901,
                  e2e=0.9, itl_us=(20011, 19990), prompt_tokens=8, output_tokens=3, finish_reason="length"),
    RequestResult(t=2.1, variant="awq", step=0, index=3, warmup=False, start=1.1, ok=False, error="http_status",
                  http_status=503, error_detail="HTTP 503: busy | <b>x</b>"),
    VariantRetired(t=3.0, variant="awq", step=0, rule="slo", detail="p95 e2e 900 ms > SLO 800 ms"),
    StepFinished(t=3.0, step=0),
    SweepFinished(t=3.1, reason="completed"),
    OperatorNote(t=3.2, text="unicode ✓ and a\nnewline\u2028sep"),
    TriageStarted(t=4.0, quality_set="default", prompts=24, variants=("bf16", "awq"), reference="bf16",
                  top_logprobs=5, seed=7),
    TriagePrompt(t=4.1, prompt_id="math-1", category="reasoning",
                 messages=(("system", "be brief"), ("user", "17*23? | `x` <b>")), reference_answer="391",
                 max_tokens=64),
    TriageAnswer(t=4.2, prompt_id="math-1", variant="awq", text="It is 392.\n\x1b[31m[bold]",
                 finish_reason="stop", output_tokens=6, flags=(Flag("numeric_mismatch", "expected 391, found 392"),),
                 ttft=0.1, e2e=0.5),
    TriageDivergence(t=4.3, prompt_id="math-1", variant="awq", reference="bf16", positions=6, mean_kl=0.031,
                     top1_agreement=0.833),
    TriageDivergence(t=4.3, prompt_id="math-2", variant="awq", reference="bf16", positions=0, mean_kl=None,
                     top1_agreement=None, detail="reference answer empty"),
    TriageTagged(t=4.4, prompt_id="math-1", variant="awq", verdict="wrong_answer", symptom="off by one"),
    TriageFinished(t=4.5, reason="completed"),
    ProfileStarted(t=5.0, variants=("bf16", "awq", "gguf"), request="1 x 200 output tokens", paused_ramp=True),
    ProfileCaptured(t=5.1, variant="awq", precision="awq", trace="awq-20261204-160000.pt.trace.json.gz",
                    capture_s=31.5, trace_bytes=4_400_000, weights_bytes=None, bandwidth_gbps=16.0,
                    profile=ComputeProfile((PhaseProfile(
                        phase="decode", steps=2, traced_ms=76.7, step_ms_mean=38.3, step_ms_p50=38.3, gap_share=0.27,
                        categories=(CategoryTime("quantized GEMM", 38.0, 0.5), CategoryTime(GAPS, 20.5, 0.27)),
                        top_ops=(OpTime("_C::cpu_gemm_wna16 | `x`", "quantized GEMM", 240, 38.0, 158.3),),
                        other_names=("weird\x1bop",), tokens=2, step_ms=(37.9, 38.7), step_gap_ms=(10.2, 10.3)),))),
    ProfileUnavailable(t=5.2, variant="gguf", reason="not available for this engine"),
    ProfileFinished(t=5.3, reason="completed"),
]  # fmt: skip


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_type_round_trips_exactly(event):
    line = encode_event(event)
    assert "\n" not in line
    assert decode_event(line, "x:1") == event


def header() -> RecordingHeader:
    return RecordingHeader(started_utc="2026-11-23T21:00:00+00:00", quanttui="0.1.0", config={"plan": None},
                           host={"hostname": "h"})  # fmt: skip


def write_recording(path: Path, events=SAMPLES) -> None:
    recorder = Recorder(path, header())
    recorder.open()
    recorder.write_batch(list(events))
    recorder.close()


def test_file_round_trip(tmp_path):
    path = tmp_path / "rec.jsonl"
    write_recording(path)
    recording, events = read_recording(path)
    assert recording.header == header()
    assert events == SAMPLES
    assert recording.warnings == []


def test_a_file_cut_mid_line_replays_up_to_its_last_whole_line_with_a_warning(tmp_path):
    path = tmp_path / "rec.jsonl"
    write_recording(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])  # cut inside the last event line
    recording, events = read_recording(path)
    assert events == SAMPLES[:-1]
    assert len(recording.warnings) == 1
    assert "cut short" in recording.warnings[0] and f":{len(SAMPLES) + 1}:" in recording.warnings[0]


def test_newer_schema_is_refused_with_one_line(tmp_path):
    path = tmp_path / "rec.jsonl"
    head = json.loads(header().to_json())
    head["schema"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(head) + "\n")
    with pytest.raises(RecordingError) as info:
        read_recording(path)
    message = str(info.value)
    assert "\n" not in message and "schema" in message and str(path) in message


@pytest.mark.parametrize(
    "line,expected",
    [
        ("not json at all", ":3: not a JSON object"),
        ('{"type": "Nope", "t": 1}', "field 'type'"),
        ('{"type": "StepFinished", "t": "soon", "step": 1}', "field 't': expected a number"),
        ('{"type": "StepFinished", "t": 1.0}', "field 'step': missing"),
        ('{"type": "StepFinished", "t": 1.0, "step": 1, "extra": 2}', "field 'extra': unknown field"),
        (
            '{"type": "GpuSample", "t": 1, "index": 0, "name": "g", "mem_total_mib": 1, "mem_used_mib": 1,'
            ' "util_pct": null, "power_w": null, "processes": [{"pid": "x", "used_mib": 1}]}',
            "field 'processes[0].pid': expected an integer",
        ),
        (
            '{"type": "ProfileCaptured", "t": 1, "variant": "a", "precision": "a", "trace": "x", "profile":'
            ' {"phases": [{"phase": "decode", "steps": "two", "traced_ms": 1, "step_ms_mean": 1, "step_ms_p50": 1,'
            ' "gap_share": 0, "categories": [], "top_ops": []}]}}',
            "ProfileCaptured field 'profile.phases[0].steps': expected an integer",
        ),
    ],
)
def test_a_damaged_line_in_the_middle_names_file_line_and_field(tmp_path, line, expected):
    path = tmp_path / "rec.jsonl"
    lines = [header().to_json(), encode_event(SAMPLES[0]), line, encode_event(SAMPLES[1])]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordingError) as info:
        read_recording(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_not_a_recording(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(RecordingError, match="not a quanttui recording"):
        read_recording(path)
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "missing.jsonl")


async def test_recorder_subscriber_and_replayer_use_the_same_stream_path(tmp_path):
    path = tmp_path / "rec.jsonl"
    stream = SessionStream()
    recorder = Recorder(path, header())
    task = asyncio.create_task(recorder.run(stream.subscribe("recorder")))
    for event in SAMPLES:
        stream.publish(event)
    stream.close()
    await task
    replay_stream = SessionStream()
    sub = replay_stream.subscribe("check")
    replayer = ControlledReplayer(path, speed=None)
    _, events = replayer.open()
    await replayer.run(replay_stream, events)
    replay_stream.close()
    assert [e async for e in sub if not isinstance(e, ReplayStatus)] == SAMPLES


async def test_replay_with_original_timing_is_scaled_by_speed(tmp_path):
    path = tmp_path / "rec.jsonl"
    events = [OperatorNote(t=0.0, text="a"), OperatorNote(t=0.4, text="b")]
    write_recording(path, events)
    replayer = ControlledReplayer(path, speed=2.0)
    _, it = replayer.open()
    stream = SessionStream()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await replayer.run(stream, it)
    assert 0.18 <= loop.time() - start < 0.5


def test_recordings_before_schema_5_hold_no_profiles():
    """The shipped recordings made before schema 5 still fold, with no profile (the Compute screen
    and the report say so); the shipped profile recording folds both profiles."""
    from quanttui.io.recording_file import fold_recording

    shipped = sorted((Path(__file__).parents[2] / "recordings").glob("*.jsonl"))
    unprofiled = [p for p in shipped if "profile" not in p.name]
    assert sum(fold_recording(p).header.schema < 5 for p in unprofiled) >= 5
    for path in unprofiled:  # older ones and later ones without a profile alike
        assert fold_recording(path).fold.compute.empty
    profiled = fold_recording(Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-profile.jsonl")
    assert profiled.header.schema == 5 and set(profiled.fold.compute.profiles) == {"bf16", "awq"}
