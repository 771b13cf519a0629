"""Secrets are masked wherever they appear, nested values included; short values are not secrets."""

from quanttui.core.events import RequestResult
from quanttui.core.secrets import MASK, Secrets, secret_flag_values
from quanttui.core.triage import Flag
from quanttui.core.triage_events import TriageAnswer

KEY = "sk-test-0123456789abcdef"


def test_secrets_are_collected_from_the_key_flags_and_secret_named_env():
    secrets = Secrets.collect(
        KEY,
        argvs=[
            ["vllm", "serve", "m", "--api-key", "flag-secret-1", "--hf-token=tok-secret-2", "--port", "8000"]
        ],
        envs=[{"HF_TOKEN": "hf_abcdefgh", "CUDA_VISIBLE_DEVICES": "0,1,2,3", "OMP_NUM_THREADS": "123456"}],
    )
    assert set(secrets.values) == {KEY, "flag-secret-1", "tok-secret-2", "hf_abcdefgh"}
    assert secret_flag_values(["--api-key", "--port"]) == []  # a flag with no value


def test_short_values_are_not_secrets_and_longest_is_masked_first():
    secrets = Secrets(["abc", None, "", "secret-long-value", "secret-long"])
    assert secrets.values == ("secret-long-value", "secret-long")
    assert secrets.scrub("x secret-long-value y secret-long z abc") == f"x {MASK} y {MASK} z abc"


def test_events_are_scrubbed_field_by_field_and_nested():
    secrets = Secrets([KEY])
    result = RequestResult(t=1.0, variant="a", step=0, index=0, warmup=False, start=0.5, ok=False,
                           error="http_4xx", error_detail=f"Received API Key = Bearer {KEY}")  # fmt: skip
    scrubbed = secrets.scrub_event(result)
    assert scrubbed.error_detail == f"Received API Key = Bearer {MASK}" and scrubbed.start == 0.5
    answer = TriageAnswer(t=1.0, prompt_id="p", variant="a", text="ok", error=f"401: {KEY}",
                          flags=(Flag("request_error", f"body: {KEY}"),))  # fmt: skip
    clean = secrets.scrub_event(answer)
    assert KEY not in repr(clean) and clean.flags[0].evidence == f"body: {MASK}"
    untouched = RequestResult(t=1.0, variant="a", step=0, index=0, warmup=False, start=0.5, ok=True)
    assert secrets.scrub_event(untouched) is untouched
    assert Secrets().scrub_event(result) is result
