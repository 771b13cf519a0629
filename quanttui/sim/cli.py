"""Command line of the simulated vLLM server: `python -m quanttui.sim.server --port 0 ...`.

Prints exactly `LISTENING <port>` on stdout once bound; exits cleanly on SIGTERM/SIGINT, and on
stdin EOF with --exit-on-stdin-eof (so a crashed parent leaves no simulator behind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import fields

from quanttui.sim.engine import SimConfig
from quanttui.sim.server import SimHTTPServer

# -- command line ---------------------------------------------------------------------------------
_HELP = {
    "model": "served model name (/v1/models id, model_name label)",
    "ttft_ms": "admission to first token, ms",
    "itl_ms": "gap between tokens with one request running, ms",
    "output_tokens": "tokens before EOS when ignore_eos is false",
    "max_num_seqs": "running slots; further requests wait",
    "kv_cache_tokens": "KV-cache capacity in tokens (prompt + generated of running requests)",
    "block_size": "block size reported in vllm:cache_config_info",
    "max_model_len": "context length; longer requests get vLLM's 400",
    "load_factor": "ITL grows as itl_ms * (1 + load_factor * (running - 1))",
    "fault": "default fault for every request, NAME or NAME:ARG (see the module docstring)",
    "keepalive_timeout_s": "close idle keep-alive connections after this many seconds (uvicorn: 5)",
    "metrics": "vllm (default), or none: no /metrics route (404), like llama-cpp-python's server",
    "answers": "words (default: a word cycle), or book: answers to the quality prompts (sim/answers.py)",
    "drift": "with --answers book: share of prompts answered as a quantized model might (0..1)",
    "tokenize": "none (default: no /tokenize route, like llama-cpp-python's server), or words: vLLM's "
    "/tokenize counting words as the usage does (exact-length workloads)",
    "send_log": "append each streamed request's receive and token-write times (perf_counter_ns) to this "
    "file at shutdown, JSON lines (sim/sendlog.py)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m quanttui.sim.server", description="Simulated vLLM server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    for f in fields(SimConfig):
        if f.name == "api_key":
            continue
        kind = str if f.default is None else type(f.default)
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, dest=f.name, type=kind, default=f.default, help=_HELP[f.name])
    # vLLM's spelling, so the engine launcher can start the simulator like a vLLM server.
    parser.add_argument("--served-model-name", dest="model", help="alias of --model (as vLLM spells it)")
    parser.add_argument("--api-key-env", metavar="VAR", help="require the API key held in this env variable")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when the parent closes stdin")
    parser.add_argument(
        "--profiler-config",
        metavar="JSON",
        help="accepted as vLLM spells it, and ignored: the simulator has no profiler (/start_profile is 404)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    values = {f.name: getattr(args, f.name) for f in fields(SimConfig) if f.name != "api_key"}
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise ValueError(f"environment variable {args.api_key_env} is not set")
        values["api_key"] = key
    return SimConfig(**values)


async def serve(config: SimConfig, host: str, port: int, exit_on_stdin_eof: bool = False) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF); announce the bound port on stdout."""
    server = SimHTTPServer(config)
    bound = await server.start(host, port)
    print(f"LISTENING {bound}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if exit_on_stdin_eof:
        fd = sys.stdin.fileno()

        def on_stdin() -> None:
            if not os.read(fd, 4096):  # the parent died or closed the pipe
                loop.remove_reader(fd)
                stop.set()

        loop.add_reader(fd, on_stdin)
    await stop.wait()
    await server.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as exc:
        print(f"sim server: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, args.host, args.port, args.exit_on_stdin_eof))
    except OSError as exc:
        print(f"sim server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
