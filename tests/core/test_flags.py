"""Every automatic flag fires on what it is for and stays quiet on normal answers."""

import pytest

from quanttui.core.flags import extract_python_code, flag_output
from quanttui.core.quality_set import QualityPrompt
from quanttui.io.code_check import run_python_assert

PLAIN = QualityPrompt(
    id="p", category="eli5", messages=(("user", "Explain rain to a child."),), max_tokens=64
)
MATH = QualityPrompt(id="m", category="reasoning", messages=(("user", "17*23?"),), numeric=391)
PRICE = QualityPrompt(id="m2", category="reasoning", messages=(("user", "Price?"),), numeric=1234.5)
FACT = QualityPrompt(
    id="f", category="factual", messages=(("user", "Capital of France?"),), contains=("Paris",)
)
CODE = QualityPrompt(id="c", category="code", messages=(("user", "Write f."),), python_parses=True)
PROSE = (
    "Rain starts as tiny drops of water in clouds. When the drops bump into each other they grow, "
    "and when they get too heavy to float, they fall to the ground as rain."
)


def kinds(prompt, text, finish="stop", error=""):
    return [f.kind for f in flag_output(prompt, text, finish, error)]


def test_normal_answers_have_no_flags():
    assert kinds(PLAIN, PROSE) == []
    listing = "\n".join(f"- Step {i}: pour the water into glass number {i} and wait." for i in range(1, 9))
    assert kinds(PLAIN, listing) == []  # a list repeats its frame, not its content
    assert kinds(MATH, "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391") == []
    assert kinds(PRICE, "The total is $1,234.50.") == []
    assert kinds(FACT, "The capital of France is paris.") == []
    assert kinds(CODE, "```python\ndef f():\n    return 1\n```") == []


@pytest.mark.parametrize(
    ("prompt", "text", "finish", "kind", "evidence"),
    [
        (PLAIN, "", "stop", "empty", "empty"),
        (PLAIN, "It is a color called a color called a color called " * 6, "stop", "repetition", "color called"),
        (PLAIN, "yes yes yes yes yes yes yes yes yes", "stop", "repetition", "distinct"),
        (PLAIN, PROSE, "length", "truncated", "max_tokens 64"),
        (PLAIN, "雨是从云里落下来的水滴，当水滴变重的时候就会落下。", "stop", "language_switch", "cjk"),
        (PLAIN, PROSE + " Дождь идёт, когда капли становятся тяжёлыми и падают вниз.", "stop", "language_switch",
         "cyrillic"),
        (CODE, "```python\ndef f(:\n    return 1\n```", "stop", "code_syntax", "line 1"),
        (CODE, "Here is how you could do it in words only.", "stop", "code_syntax", "no Python code block"),
        (MATH, "The answer is 392.", "stop", "numeric_mismatch", "expected 391, found 392"),
        (MATH, "I do not know.", "stop", "numeric_mismatch", "no number"),
        (FACT, "The capital of France is Lyon.", "stop", "reference_mismatch", "'Paris'"),
        (PLAIN, "I'm sorry, but I can't help with that request.", "stop", "refusal", "starts with a refusal"),
    ],
)  # fmt: skip
def test_each_flag_fires_with_its_evidence(prompt, text, finish, kind, evidence):
    flags = flag_output(prompt, text, finish)
    matching = [f for f in flags if f.kind == kind]
    assert matching, flags
    assert evidence in matching[0].evidence.lower() or evidence in matching[0].evidence
    assert "\n" not in matching[0].evidence


def test_a_failed_request_is_one_flag_and_nothing_else():
    assert kinds(MATH, "", "stop", "timeout_first_token: no token in 300 s") == ["request_error"]


def test_code_in_another_language_is_skipped_and_said_so():
    text = "```javascript\nfunction f( {\n```"
    assert extract_python_code(text).note.startswith("skipped: javascript")
    assert kinds(CODE, text) == []  # not judged: it is not Python
    assert extract_python_code("def f():\n    return 2").code.startswith("def f")


def test_the_code_assert_runs_outside_the_process():
    ok = "def reverse_string(s):\n    return s[::-1]"
    assert run_python_assert(ok, "assert reverse_string('abc') == 'cba'") is None
    wrong = run_python_assert("def reverse_string(s):\n    return s", "assert reverse_string('abc') == 'cba'")
    assert wrong.kind == "code_assert" and "assert reverse_string('abc') == 'cba'" in wrong.evidence
    boom = run_python_assert("def f():\n    raise KeyError('x')", "assert f()")
    assert "KeyError" in boom.evidence
    # the wall-clock timeout (1.5 s) ends an endless loop long before its 5 s CPU limit would
    loop = run_python_assert("while True:\n    pass", "assert True", timeout_s=1.5)
    assert loop.evidence == "timed out after 1.5 s (an endless loop?)"
    big = run_python_assert("open('big', 'w').write('x' * (8 * 2**20))", "assert True")
    assert (
        big.kind == "code_assert" and big.evidence == "OSError: [Errno 27] File too large"
    )  # the 1 MiB limit
    memory = run_python_assert("x = bytearray(4 * 2**30)", "assert True")
    assert memory.kind == "code_assert" and memory.evidence == "MemoryError"  # the 512 MiB limit
