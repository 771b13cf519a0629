"""What a sweep is asked to do (endpoints, plan, options) and what it returns."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from quanttui.core.clock import SessionClock
from quanttui.core.events import EndpointInfo
from quanttui.core.loadplan import LoadPlan
from quanttui.core.recording import RecordingHeader
from quanttui.core.triage import Tag
from quanttui.io.openai_client import EndpointError, RequestOptions, Timeouts

_PRECISION_HINTS = ("awq", "gptq", "gguf", "bf16", "fp16", "fp8", "int8", "int4", "rtn")


def guess_precision(*names: str) -> str:
    for name in names:
        lowered = name.lower()
        for hint in _PRECISION_HINTS:
            if hint in lowered:
                return hint
    return ""


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    url: str  # the first replica's, for a fleet
    model: str | None = None
    precision: str | None = None
    replicas: tuple[str, ...] = ()  # a fleet: every replica's URL (url first); () for one endpoint
    balance: str = "round-robin"  # how a fleet's requests are spread (core/fleet.BALANCE_POLICIES)


@dataclass(frozen=True)
class SweepConfig:
    endpoints: tuple[EndpointSpec, ...]
    plan: LoadPlan
    options: RequestOptions
    timeouts: Timeouts
    out_dir: Path
    prompts_source: str = "embedded default"
    api_key_env: str | None = None
    scrape_interval_s: float = 1.0
    gpu_interval_s: float = 1.0
    cost: dict[str, Any] = field(default_factory=dict)  # [cost] of a session file: for reports
    hardware: dict[str, Any] = field(default_factory=dict)  # [hardware], completed at start (bandwidth)
    derive_slo_factor: float | None = None  # no SLO in the plan: derive one (session/derived_slo.py)
    load_workers: int | None = None  # load worker processes; None: one per 256 streams; 0: none
    ray_address: str | None = None  # the load workers as actors of this Ray cluster (io/ray_pool.py)
    tokenizer: Path | None = None  # tokenizer files that count exact prompt lengths (else /tokenize)
    gpu_exporters: tuple[tuple[str, str], ...] = ()  # (host, DCGM exporter URL): GPU telemetry beside NVML
    gpu_map: tuple[str, ...] = ()  # which exporter GPUs serve which variant (core/gpu_map.py specs)
    prometheus: str | None = None  # a Prometheus server scraping the DCGM exporters (io/prometheus_gpu.py)
    prometheus_selector: str = ""  # PromQL label matchers narrowing its DCGM series
    prometheus_engines: tuple[
        tuple[str, str], ...
    ] = ()  # (variant, matchers): its vllm:* series via Prometheus

    def header_config(self, resolved: list[EndpointInfo]) -> dict[str, Any]:
        return {**self._header_config(resolved), "cost": dict(self.cost), "hardware": dict(self.hardware)}

    def _endpoint_entry(self, info: EndpointInfo) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": info.variant,
            "url": info.url,
            "model": info.model,
            "precision": info.precision,
        }
        if info.replicas:
            balance = next((s.balance for s in self.endpoints if s.name == info.variant), "round-robin")
            entry.update(replicas=list(info.replicas), balance=balance)
        return entry

    def _header_config(self, resolved: list[EndpointInfo]) -> dict[str, Any]:
        """The resolved configuration for the recording header: never the API key itself."""
        return {
            "command": "sweep",
            "endpoints": [self._endpoint_entry(e) for e in resolved],
            "plan": self.plan.to_dict(),
            "request": {
                "max_tokens": self.options.max_tokens,
                "temperature": self.options.temperature,
                "seed": self.options.seed,
                "ignore_eos": self.options.ignore_eos,
            },
            "timeouts": {
                "connect_s": self.timeouts.connect_s,
                "first_token_s": self.timeouts.first_token_s,
                "idle_s": self.timeouts.idle_s,
                "total_s": self.timeouts.total_s,
            },
            "prompts": self.prompts_source,
            "api_key_env": self.api_key_env,
            "scrape_interval_s": self.scrape_interval_s,
            "load_workers": self.load_workers,
            "ray_address": self.ray_address,
            "tokenizer": str(self.tokenizer) if self.tokenizer else None,
            "gpu_metrics": {host: url for host, url in self.gpu_exporters},
            "gpu_map": list(self.gpu_map),
            "prometheus": self.prometheus,
            "prometheus_selector": self.prometheus_selector,
            "prometheus_engines": {variant: matchers for variant, matchers in self.prometheus_engines},
        }


@dataclass
class SessionResult:
    summary: dict[str, Any]
    recording: Path | None = None
    csv: Path | None = None
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False


@dataclass(frozen=True)
class SessionInfo:
    """What a driver (the console) learns of a session once, before it runs: everything after
    that comes as events on its stream."""

    mode: Literal["live", "replay"]
    header: RecordingHeader  # a live attached session's endpoint models are resolved later
    plan: LoadPlan | None
    variants: tuple[str, ...]  # in display order, known before the engines start
    recording: Path | None  # where the session records (live) or what it replays
    can_triage: bool = False
    triage_only: bool = False
    can_restart: bool = False  # launched engines can be started again
    can_profile: bool = False  # a live session profiles its variants on request (issue 18)
    duration: float = 0.0  # a replay's length (t of its last event)
    clock: SessionClock | None = None  # a live session's clock (reading it is thread-safe)
    # The operator's tags journaled in earlier sittings (reads the journal file; any thread).
    load_tags: Callable[[], dict[tuple[str, str], Tag]] = dict
    journal: Path | None = None  # where the operator's tags are journaled


def read_api_key(env_var: str | None) -> str | None:
    if not env_var:
        return None
    value = os.environ.get(env_var)
    if not value:
        raise EndpointError(f"--api-key-env {env_var}: the environment variable is not set")
    return value
