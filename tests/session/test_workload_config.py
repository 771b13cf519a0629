"""The workload in a session file's [load] table: the same rules as the flags, errors in the file's words."""

from pathlib import Path

import pytest
from tokenizers import Tokenizer, models

from quanttui.cli.plan_options import DEFAULT_LAUNCHED_SCHEDULE, plan_from_load
from quanttui.cli.run import run_config_from_file
from quanttui.core.arrivals import ArrivalKind
from quanttui.core.levels import LevelKind
from quanttui.io.config import ConfigError


def test_a_rate_ramp_with_bursty_arrivals_and_drawn_lengths():
    plan = plan_from_load(
        {"rate": [0.5, 1, 2], "burstiness": 0.5, "arrival_seed": 3, "max_concurrency": 32,
         "output_tokens": "uniform:16-64", "input_tokens": 200, "length_seed": 4},
        DEFAULT_LAUNCHED_SCHEDULE,
    )  # fmt: skip
    assert plan.kind is LevelKind.RATE and plan.rates == (0.5, 1.0, 2.0) and plan.max_in_flight == 32
    assert (
        plan.arrivals.kind is ArrivalKind.GAMMA
        and plan.arrivals.burstiness == 0.5
        and plan.arrivals.seed == 3
    )
    assert plan.output_lengths.describe() == "uniform 16-64 tokens" and plan.output_lengths.seed == 4
    assert plan.prompt_lengths.describe() == "200 tokens"


def test_long_prefill_and_shared_prefix():
    long = plan_from_load(
        {"workload": "long-prefill", "input_lengths": [128, 512]}, DEFAULT_LAUNCHED_SCHEDULE
    )
    assert (
        long.kind is LevelKind.INPUT_TOKENS
        and long.input_lengths == (128, 512)
        and long.concurrencies == (1,)
    )
    shared = plan_from_load({"workload": "shared-prefix", "prefix_tokens": 300, "concurrency": [2, 4]},
                            DEFAULT_LAUNCHED_SCHEDULE)  # fmt: skip
    assert shared.prefix_tokens == 300 and shared.concurrencies == (2, 4)


@pytest.mark.parametrize(
    "load, needle",
    [
        (
            {"rate": [1], "concurrency": [2]},
            "rate and concurrency: rate steps are open loop; cap them with max_concurrency",
        ),
        ({"arrivals": "gamma"}, "arrivals applies to open-loop steps: give rate"),
        ({"rate": [1], "arrivals": "bursty"}, "arrivals: expected constant, poisson or gamma"),
        ({"workload": "long"}, "workload: expected one of chat, long-prefill, shared-prefix, multi-turn"),
        ({"output_tokens": "normal:5"}, "output_tokens: 'normal:5' is not a length"),
        ({"history": "mine"}, "history: expected recorded or own, got 'mine'"),
        (
            {"history": "own", "input_tokens": 64},
            "history own replays conversations; input_tokens and workload",
        ),
    ],
)
def test_a_bad_workload_key_is_named(load, needle):
    with pytest.raises(ValueError) as error:
        plan_from_load(load, DEFAULT_LAUNCHED_SCHEDULE)
    assert needle in str(error.value)


SESSION = """
[variants.bf16]
model = "/models/bf16"
port = 8001
[variants.awq]
model = "/models/awq"
port = 8002
[load]
concurrency = [1]
"""


def session_file(tmp_path: Path, load: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(SESSION + load)
    return path


def test_own_history_and_a_tokenizer_folder_in_a_session_file(tmp_path):
    tokenizer = tmp_path / "tok"
    tokenizer.mkdir()
    Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")).save(str(tokenizer / "tokenizer.json"))
    (tokenizer / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    path = session_file(tmp_path, 'workload = "multi-turn"\nhistory = "own"\ntokenizer = "tok"\n')
    _, config, prompts = run_config_from_file(path, tmp_path / "out")
    assert config.plan.own_history and config.tokenizer == tokenizer and len(prompts) == 27
    assert "each variant's own answers as history" in config.prompts_source


@pytest.mark.parametrize(
    "load, needle",
    [
        ('history = "own"\n', "s.toml: field 'load.history': own answers need conversations"),
        ('tokenizer = "nowhere"\n', "s.toml: field 'load.tokenizer': "),
    ],
)
def test_bad_history_or_tokenizer_in_a_session_file_is_one_line(tmp_path, load, needle):
    with pytest.raises(ConfigError) as error:
        run_config_from_file(session_file(tmp_path, load), tmp_path / "out")
    assert needle in str(error.value) and "\n" not in str(error.value)
