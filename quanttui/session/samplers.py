"""The background collectors of a live session: GPU (NVML, each DCGM exporter given, or a Prometheus server that scrapes them), /metrics
scrapers, the engines' process trees and the host's noise, started together when the ramp is about
to be driven."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from quanttui.core.clock import SessionClock
from quanttui.core.events import EndpointInfo, Event
from quanttui.core.gpu_map import parse_gpu_match
from quanttui.io.dcgm import DcgmSampler
from quanttui.io.host_sampler import HostSampler, local_ports
from quanttui.io.metrics import MetricsScraper
from quanttui.io.nvml import NvmlSampler
from quanttui.io.process_sampler import ProcessSampler
from quanttui.io.prometheus_engine import PrometheusEngineScraper
from quanttui.io.prometheus_gpu import PrometheusGpuSource
from quanttui.session.spec import SweepConfig


def start_samplers(
    config: SweepConfig, resolved: list[EndpointInfo], publish: Callable[[Event], None], clock: SessionClock
) -> list[asyncio.Task[None]]:
    """One task per collector; the caller cancels them when the ramp ends.

    The host sampler counts as ours quanttui's own tree (launched engines are our children), each
    engine's root pid, and for an attached engine without pids the process listening on its local
    port; it learns who is on the GPUs from the NVML sampler's events."""
    interval = config.gpu_interval_s
    host = HostSampler(
        publish,
        clock,
        interval,
        roots=[pid for info in resolved for pid in info.pids[:1]],
        ports=local_ports(url for info in resolved if not info.pids for url in info.replicas or (info.url,)),
    )

    def gpu_publish(event: Event) -> None:
        publish(event)
        host.observe(event)

    tasks = [asyncio.create_task(NvmlSampler(gpu_publish, clock, interval).run())]
    matches = [parse_gpu_match(spec) for spec in config.gpu_map]  # checked when the config was built
    tasks += [
        asyncio.create_task(DcgmSampler(host, url, matches, publish, clock, interval).run())
        for host, url in config.gpu_exporters
    ]
    if config.prometheus:
        source = PrometheusGpuSource(
            config.prometheus, matches, publish, clock, interval, config.prometheus_selector
        )
        tasks.append(asyncio.create_task(source.run()))
    through_prometheus = dict(config.prometheus_engines)
    for info in resolved:
        matchers = through_prometheus.get(info.variant)
        if matchers and config.prometheus:  # a fleet's matchers select all its replicas: one sum
            scraper: MetricsScraper = PrometheusEngineScraper(
                info.variant, config.prometheus, matchers, publish, clock, config.scrape_interval_s
            )
            tasks.append(asyncio.create_task(scraper.run()))
            continue
        for url in info.replicas or (info.url,):  # each replica of a fleet on its own: merged by the fold
            replica = url if info.replicas else None
            scraper = MetricsScraper(
                info.variant, url, publish, clock, config.scrape_interval_s, replica=replica
            )
            tasks.append(asyncio.create_task(scraper.run()))
    roots = {info.variant: info.pids[:1] for info in resolved if info.pids}  # pids[0]: the engine's root
    if roots:
        tasks.append(asyncio.create_task(ProcessSampler(roots, publish, clock, interval).run()))
    tasks.append(asyncio.create_task(host.run()))
    return tasks
