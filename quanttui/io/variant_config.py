"""A variant's engine as a session file describes it: what to launch (its command line, with
secrets moved out of it) or, with `urls`, where it already runs (io/fleet_config.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quanttui.core.secrets import redact_argv
from quanttui.io.hardware import weights_bytes

DEFAULT_COMMAND = ("vllm", "serve")
# llama-cpp-python's OpenAI-compatible server (PyPI llama-cpp-python[server]) serving a .gguf file
LLAMA_CPP_COMMAND = ("python3", "-m", "llama_cpp.server")
ENGINE_KINDS = ("vllm", "llama-cpp")
# keys that only mean something to vLLM; a llama-cpp variant that sets one is a config error
VLLM_ONLY_KEYS = (
    "quantization",
    "dtype",
    "gpu_memory_utilization",
    "kv_cache_memory_bytes",
    "max_num_seqs",
    "enforce_eager",
)


@dataclass(frozen=True)
class VariantConfig:
    name: str
    model: str
    served_name: str
    precision: str = ""
    quantization: str | None = None
    dtype: str | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_memory_bytes: int | None = None
    max_num_seqs: int | None = None
    enforce_eager: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    command: tuple[str, ...] = DEFAULT_COMMAND
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 900.0
    stop_grace_s: float = 15.0
    engine: str = "vllm"  # one of ENGINE_KINDS
    urls: tuple[str, ...] = ()  # attached where it runs (io/fleet_config.py): one endpoint, or a fleet
    balance: str = "round-robin"  # a fleet's policy (core/fleet.BALANCE_POLICIES)

    @property
    def health_path(self) -> str:
        """What answers 200 once the engine serves: vLLM's /health; llama-cpp-python's server has
        no health route, its model list answers once the model is loaded."""
        return "/v1/models" if self.engine == "llama-cpp" else "/health"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def exposure_warning(self) -> str | None:
        """A warning when the engine will listen on every interface (anyone who can reach the box
        can then send it requests and read its /metrics); None on loopback or a named address."""
        if self.host in ("0.0.0.0", "::", ""):
            return (
                f"[{self.name}] warning: host = {self.host!r} listens on every network interface; "
                "the default 127.0.0.1 keeps the engine reachable only from this machine"
            )
        return None

    def launch_command(self) -> tuple[list[str], dict[str, str]]:
        """The command line to start the engine with, and environment to add: vLLM reads its API
        key from VLLM_API_KEY, so an `--api-key` in extra_args goes there instead of the command
        line (where `ps` would show it to every user of the box)."""
        argv = self.argv()
        if self.engine != "vllm":
            return argv, {}
        out: list[str] = []
        env: dict[str, str] = {}
        skip = False
        for i, arg in enumerate(argv):
            if skip:
                skip = False
                continue
            flag, eq, value = arg.partition("=")
            if flag == "--api-key" and (eq or i + 1 < len(argv)):
                env["VLLM_API_KEY"] = value if eq else argv[i + 1]
                skip = not eq
                continue
            out.append(arg)
        return out, env

    def argv(self) -> list[str]:
        """The engine's command line. `vllm serve` takes the model as its first argument; the
        older `python -m vllm.entrypoints.openai.api_server` form takes `--model`."""
        if self.engine == "llama-cpp":
            return self._llama_cpp_argv()
        args = list(self.command)
        if args[-2:] == ["vllm", "serve"] or args[-1:] == ["serve"]:
            args.append(self.model)
        else:
            args += ["--model", self.model]
        args += ["--host", self.host, "--port", str(self.port), "--served-model-name", self.served_name]
        if self.quantization:
            args += ["--quantization", self.quantization]
        if self.dtype:
            args += ["--dtype", self.dtype]
        if self.max_model_len:
            args += ["--max-model-len", str(self.max_model_len)]
        if self.gpu_memory_utilization is not None:
            args += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        if self.kv_cache_memory_bytes is not None:
            args += ["--kv-cache-memory-bytes", str(self.kv_cache_memory_bytes)]
        if self.max_num_seqs:
            args += ["--max-num-seqs", str(self.max_num_seqs)]
        if self.enforce_eager:
            args.append("--enforce-eager")
        return args + list(self.extra_args)

    def _llama_cpp_argv(self) -> list[str]:
        args = [*self.command, "--model", self.model, "--host", self.host, "--port", str(self.port)]
        args += ["--model_alias", self.served_name]
        if self.max_model_len:
            args += ["--n_ctx", str(self.max_model_len)]
        return args + list(self.extra_args)

    def public(self) -> dict[str, Any]:
        """For the recording header: the configuration without env values (they may hold secrets)."""
        return {
            "name": self.name,
            "model": self.model,
            "served_name": self.served_name,
            "precision": self.precision,
            "engine": self.engine,
            "argv": redact_argv(self.argv()),
            "env_keys": sorted(self.env),
            "weights_bytes": weights_bytes(self.model),  # for the roofline of reports
        }
