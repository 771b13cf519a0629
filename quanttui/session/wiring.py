"""The parts every live session shares: its stream with the recorder and the session's fold
attached, the clients, endpoint discovery, the recording header."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanttui import __version__
from quanttui.core.clock import SessionClock
from quanttui.core.engine_log import stop_detail
from quanttui.core.events import EndpointInfo, Event, InstanceState
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import LoadPlan
from quanttui.core.recording import RecordingHeader
from quanttui.core.secrets import Secrets
from quanttui.core.stream import SessionStream
from quanttui.core.summary import build_summary
from quanttui.io.config import VariantConfig
from quanttui.io.export import write_sweep_csv
from quanttui.io.hardware import memory_bandwidth
from quanttui.io.host import host_facts
from quanttui.io.openai_client import EndpointError, OpenAIStreamClient
from quanttui.io.recording_file import Recorder
from quanttui.session.spec import EndpointSpec, SessionResult, SweepConfig, guess_precision, read_api_key
from quanttui.session.triage import TriageSpec


async def resolve_endpoints(
    specs: tuple[EndpointSpec, ...],
    clients: dict[str, OpenAIStreamClient],
    clock: SessionClock,
    pids: dict[str, tuple[int, ...]] | None = None,
    fleets: dict[str, list[OpenAIStreamClient]] | None = None,
) -> list[EndpointInfo]:
    """Ask every endpoint (every replica of a fleet) for its models at once; any unreachable one
    fails the whole start, and so does a fleet whose replicas do not all serve the model."""

    async def one(spec: EndpointSpec) -> EndpointInfo:
        client = clients[spec.name]
        models = await client.list_models()
        model = spec.model or models[0]
        client.model = model
        replicas = (fleets or {}).get(spec.name, [])
        served = await asyncio.gather(*(r.list_models() for r in replicas[1:]))
        for replica, names in zip(replicas[1:], served, strict=True):
            if model not in names:
                raise EndpointError(
                    f"{spec.name}: replica {replica.root} does not serve {model!r} "
                    f"(it serves {', '.join(map(repr, names[:3]))}); a fleet's replicas serve one model"
                )
            replica.model = model
        precision = spec.precision if spec.precision is not None else guess_precision(spec.name, model)
        return EndpointInfo(
            t=clock.now(),
            variant=spec.name,
            url=client.root,
            model=model,
            precision=precision,
            pids=(pids or {}).get(spec.name, ()),
            replicas=tuple(r.root for r in replicas),
        )

    return list(await asyncio.gather(*(one(s) for s in specs)))


class LiveStreams:
    """The stream of one live session with its recorder and the session's fold attached.

    The fold is a tap (fed inside `publish()`, so the stop rules can read a step's decision as
    soon as its `StepFinished` is published); the recorder subscribes at once, so nothing
    published before `start()` is lost. The recording file is created by `start()` (an attached
    sweep writes nothing when an endpoint is unreachable)."""

    def __init__(self, clock: SessionClock, out_dir: Path, plan: LoadPlan | None) -> None:
        self.clock = clock
        self.out_dir = out_dir
        self.stream = SessionStream()
        self.fold = SessionFold(plan)
        self.stream.tap(self.fold.apply)
        self.recorder: Recorder | None = None
        self.header: RecordingHeader | None = None
        self._recorder_sub = self.stream.subscribe("recorder")
        self._consumers: list[asyncio.Task[None]] = []

    def start(self, header: RecordingHeader) -> None:
        self.header = header
        self.recorder = Recorder(self.out_dir / "recording.jsonl", header)
        try:
            self.recorder.open()
        except BaseException:
            self.stream.close()  # subscribers (a console) end instead of waiting forever
            raise
        self._consumers = [asyncio.create_task(self.recorder.run(self._recorder_sub))]

    async def drain(self) -> None:
        """Close the stream and let the recorder write what it has."""
        self.stream.close()
        await asyncio.gather(*self._consumers)

    async def close(self, interrupted: bool) -> SessionResult:
        await self.drain()
        assert self.header is not None and self.recorder is not None
        summary = build_summary(self.header.config, self.fold)
        csv_path = self.out_dir / "sweep.csv"
        write_sweep_csv(self.fold.all_step_stats(), csv_path)
        return SessionResult(summary, self.recorder.path, csv_path, interrupted=interrupted)


def make_clients(
    config: SweepConfig, specs: tuple[EndpointSpec, ...], api_key: str | None
) -> dict[str, OpenAIStreamClient]:
    return {
        spec.name: OpenAIStreamClient(
            spec.url, spec.model or "", api_key, config.plan.max_concurrency, config.timeouts
        )
        for spec in specs
    }


def make_fleets(
    config: SweepConfig,
    specs: tuple[EndpointSpec, ...],
    clients: dict[str, OpenAIStreamClient],
    api_key: str | None,
) -> dict[str, list[OpenAIStreamClient]]:
    """A client per replica of each fleet, the variant's own client first (its first replica)."""
    return {
        spec.name: [clients[spec.name]] + [
            OpenAIStreamClient(url, spec.model or "", api_key, config.plan.max_concurrency, config.timeouts)
            for url in spec.replicas[1:]
        ]
        for spec in specs
        if spec.replicas
    }  # fmt: skip


@dataclass
class Connection:
    """The session's endpoints, asked for their models: a client per variant and per fleet replica."""

    resolved: list[EndpointInfo]
    clients: dict[str, OpenAIStreamClient]
    fleets: dict[str, list[OpenAIStreamClient]]
    api_key: str | None

    def every_client(self, more: Iterable[object] = ()) -> list[Any]:
        return all_clients(self.clients, self.fleets, more)


async def connect(
    config: SweepConfig,
    specs: tuple[EndpointSpec, ...],
    clock: SessionClock,
    scrub: Callable[[str], str],
    pids: dict[str, tuple[int, ...]] | None = None,
) -> Connection:
    """Clients for the endpoints, resolved; on any failure what was opened is closed, and an
    endpoint's error is raised with the session's secrets scrubbed (a server may echo them)."""
    clients: dict[str, OpenAIStreamClient] = {}
    fleets: dict[str, list[OpenAIStreamClient]] = {}
    try:
        api_key = read_api_key(config.api_key_env)
        clients = make_clients(config, specs, api_key)
        fleets = make_fleets(config, specs, clients, api_key)
        resolved = await resolve_endpoints(specs, clients, clock, pids, fleets)
    except EndpointError as exc:
        await close_clients(all_clients(clients, fleets))
        raise EndpointError(scrub(str(exc))) from None
    except BaseException:
        await close_clients(all_clients(clients, fleets))
        raise
    return Connection(resolved, clients, fleets, api_key)


def all_clients(
    clients: dict[str, OpenAIStreamClient],
    fleets: dict[str, list[OpenAIStreamClient]] | None,
    more: Iterable[object] = (),
) -> list[Any]:
    """Every client a session made, each once (a fleet's first replica is its variant's client)."""
    every = [*clients.values(), *(c for replicas in (fleets or {}).values() for c in replicas), *more]
    return list({id(c): c for c in every}.values())


async def close_clients(clients: Iterable[OpenAIStreamClient]) -> None:
    await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


def new_header(config: dict[str, Any]) -> RecordingHeader:
    return RecordingHeader(
        started_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        quanttui=__version__,
        config=config,
        host=host_facts(),
    )


def planned_header_config(config: SweepConfig, launch: list[VariantConfig] | None) -> dict[str, Any]:
    """The header's configuration before the session runs: a launched run's variants (their
    endpoints are known once the engines are ready), or the endpoints as given (an attached
    session records their resolved models once it has asked them)."""
    if launch is not None:
        header_config = config.header_config([])
        del header_config["endpoints"]
        header_config.update(command="run", variants=[v.public() for v in launch])
        return header_config
    given = [
        EndpointInfo(t=0.0, variant=s.name, url=s.url, model=s.model or "", precision=s.precision or "")
        for s in config.endpoints
    ]
    return config.header_config(given)


def header_extras(
    config: SweepConfig,
    extra: dict[str, Any] | None,
    triage: TriageSpec | None,
    triage_only: bool,
) -> dict[str, Any]:
    """What the header carries beside the plan: the hardware facts (memory bandwidth resolved now,
    for the roofline), a triage's quality set, and the caller's extras."""
    extras = dict(extra or {})
    bandwidth, source = memory_bandwidth(config.hardware.get("memory_bandwidth_gbps"))
    extras["hardware"] = {**config.hardware, "memory_bandwidth_gbps": bandwidth, "bandwidth_source": source}
    if triage is not None:
        extras["triage"] = triage.header_config()
        if triage_only:
            extras["command"] = "triage"
    return extras


def session_secrets(config: SweepConfig, launch: list[VariantConfig] | None) -> Secrets:
    """Every secret the session knows (core/secrets.py): the API key named by --api-key-env, and
    the launched engines' secret flags and secret-named env entries."""
    api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
    launch = launch or []
    return Secrets.collect(api_key, [v.argv() for v in launch], [v.env for v in launch])


def quiet(line: str) -> None:
    pass


def echo_states(publish: Callable[[Event], None], progress: Callable[[str], None]) -> Callable[[Event], None]:
    """Publish, and echo engine state changes as progress lines for headless runs."""

    def both(event: Event) -> None:
        publish(event)
        if isinstance(event, InstanceState):
            words = stop_detail(event.detail) if event.state == "stopped" else event.detail
            detail = f": {words}" if words and event.state != "launching" else ""
            progress(f"[{event.variant}] {event.state}{detail}")

    return both
