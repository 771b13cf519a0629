"""The console's drill-down into a fleet (issue 21): the variant's panel says how many of its
replicas serve, `F` shows each replica (serving or out and why, requests, errors, p95, KV), at
80x24, with what servers said shown literally; a session without a fleet says how to make one."""

import json

from console_helpers import UI_RECORDING, redraw, replay_app, running, settle, wait_until

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    MetricsUnavailable,
    ReplicaState,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
)
from quanttui.core.recording import SCHEMA_VERSION, encode_event
from quanttui.ui.screens.fleet import FleetScreen
from quanttui.ui.screens.monitor import MonitorScreen
from quanttui.ui.views import variant_view

A, B, C = "http://10.0.0.7:8000", "http://10.0.0.8:8000", "http://10.0.0.9:8000"
HOSTILE = "refused [bold]x[/bold] \x1b[31mred"


def fleet_recording(tmp_path):
    header = json.loads(UI_RECORDING.read_text(encoding="utf-8").splitlines()[0])
    header["schema"] = SCHEMA_VERSION
    events = [
        EndpointInfo(t=0.1, variant="bf16", url=C, model="m", precision="bf16"),
        EndpointInfo(t=0.1, variant="awq", url=A, model="m", precision="awq", replicas=(A, B)),
        StepStarted(
            t=1.0,
            step=0,
            concurrency=2,
            requests=8,
            seconds=None,
            warmup_requests=0,
            variants=("bf16", "awq"),
        ),  # fmt: skip
        EngineSample(
            t=1.2,
            variant="awq",
            kv_cache_usage=0.25,
            running=2,
            waiting=0,
            generation_tokens_total=1,
            prompt_tokens_total=1,
            preemptions_total=0,
            replica=A,
        ),  # fmt: skip
    ]
    for i in range(8):
        t = 1.3 + i * 0.1
        replica = A if i % 2 == 0 else B
        ok = replica == A or i < 4
        events.append(RequestResult(t=t, variant="awq", step=0, index=i, warmup=False, start=t - 0.2, ok=ok,
                                    error=None if ok else "connect", ttft=0.05 if ok else None,
                                    e2e=0.2 if ok else None, output_tokens=10 if ok else None, replica=replica))  # fmt: skip
        events.append(RequestResult(t=t, variant="bf16", step=0, index=i, warmup=False, start=t - 0.3, ok=True,
                                    ttft=0.05, e2e=0.3, output_tokens=10))  # fmt: skip
    events += [
        MetricsUnavailable(t=2.0, variant="awq", reason="unreachable", replica=B),
        ReplicaState(t=2.1, variant="awq", replica=B, up=False, detail=HOSTILE),
        StepFinished(t=2.5, step=0),
        SweepFinished(t=3.0, reason="completed"),
    ]
    path = tmp_path / "fleet.jsonl"
    lines = [json.dumps(header), *(encode_event(e) for e in events)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_f_shows_each_replica_of_a_fleet(tmp_path):
    app = replay_app(tmp_path / "out", fleet_recording(tmp_path))
    async with running(app, (80, 24)) as pilot:
        await settle(app, pilot)
        assert variant_view(app.state, "awq").state_text == "● fleet 1/2 up · F: which"
        assert "fleet" not in variant_view(app.state, "bf16").state_text
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the Fleet screen")
        await redraw(app, pilot)
        body = str(app.screen.query_one("#fleet-text").render())
        header = app.screen.query_one("#fleet-header").render()
        assert "1 fleet, 1 replica out" in str(header)
        assert "awq: 2 replicas, 1 serving" in body
        rows = {line.split()[0]: line.split() for line in body.splitlines() if line.startswith(" 10.0.0.")}
        assert rows["10.0.0.7:8000"][1:5] == ["serving", "4", "50%", "0"]
        assert rows["10.0.0.8:8000"][1:5] == ["OUT", "4", "50%", "2"]
        assert "[bold]x[/bold]" in body and "\x1b" not in body  # the server's words, literally
        assert "errors: connect 2" in body and "/metrics: unreachable" in body
        assert "bf16" not in body.split("p95 over")[0]  # one endpoint: not a fleet
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor again")


async def test_a_session_without_a_fleet_says_how_to_make_one(tmp_path):
    app = replay_app(tmp_path / "out")
    async with running(app, (80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetScreen), what="the Fleet screen")
        await redraw(app, pilot)
        assert "No variant here is a fleet" in str(app.screen.query_one("#fleet-text").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="the monitor again")
