"""The shipped quality set and the prompt-set format: every error names the file, the line and the field."""

import json

import pytest

from quanttui.core.quality_set import QualitySetError, expand_long_context, parse_quality_set
from quanttui.core.triage import CATEGORIES
from quanttui.io.quality_file import default_quality_set, load_quality_set


def test_the_shipped_set_covers_every_category():
    qs = default_quality_set()
    assert len(qs.prompts) >= 20
    by_category = {c: [p for p in qs.prompts if p.category == c] for c in CATEGORIES}
    assert all(by_category.values()), {c: len(v) for c, v in by_category.items()}
    assert all(p.numeric is not None for p in by_category["reasoning"])
    assert all(p.python_parses and p.python_assert for p in by_category["code"])
    assert all(p.fill_to for p in by_category["long_context"])


def line(**fields):
    base = {"id": "p1", "category": "factual", "prompt": "Q?"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{not json", "f.jsonl:2: (line)"),
        (line(category="poetry"), "f.jsonl:2: category"),
        (line(prompt=""), "f.jsonl:2: prompt"),
        (line(colour="red"), "f.jsonl:2: colour: unknown field"),
        (line(max_tokens=0), "f.jsonl:2: max_tokens"),
        (line(checks={"numeric": "ten"}), "f.jsonl:2: checks.numeric"),
        (line(checks={"python_assert": "assert (("}), "f.jsonl:2: checks.python_assert"),
        (line(checks={"speed": 1}), "f.jsonl:2: checks.speed: unknown check"),
        (line(fill_to=0.8), "f.jsonl:2: prompt: fill_to needs a {context}"),
        (line(fill_to=1.5, prompt="{context} Q?"), "f.jsonl:2: fill_to"),
        (line(prompt=None, messages=[["robot", "hi"]]), "f.jsonl:2: messages[0]"),
        (line(prompt=None, messages=[["user", "hi"]], id="p0"), None),
    ],
)
def test_errors_name_file_line_and_field(text, where):
    lines = ["# a comment", text, ""]
    if where is None:
        assert parse_quality_set(lines, "f.jsonl").prompts[0].id == "p0"
        return
    with pytest.raises(QualitySetError) as err:
        parse_quality_set(lines, "f.jsonl")
    assert str(err.value).startswith(where) and "\n" not in str(err.value)


def test_duplicate_ids_and_empty_sets_and_missing_files(tmp_path):
    with pytest.raises(QualitySetError, match=r"f.jsonl:2: id: 'p1' already used on line 1"):
        parse_quality_set([line(), line()], "f.jsonl")
    with pytest.raises(QualitySetError, match="no prompts"):
        parse_quality_set(["# nothing"], "f.jsonl")
    with pytest.raises(QualitySetError, match="no such file"):
        load_quality_set(tmp_path / "missing.jsonl")
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(QualitySetError, match="latin1.jsonl:0"):
        load_quality_set(bad)


@pytest.mark.parametrize("window", [512, 4096, 32768])
def test_long_context_fills_its_share_of_the_window_around_the_needle(window):
    prompt = next(p for p in default_quality_set().prompts if p.id == "long-needle-locker")
    filled = expand_long_context(prompt, window)
    text = filled.user_text
    assert "{context}" not in text and filled.fill_to is None
    needle = text.index("locker 47")
    assert 0.3 < needle / len(text) < 0.7  # the needle sits mid-context
    tokens_at_4 = len(text) / 4  # English prose: ~4 characters per token
    assert tokens_at_4 + prompt.max_tokens < window  # never overflows
    assert tokens_at_4 > 0.45 * window  # and fills a good share of it
    assert expand_long_context(prompt, window) == filled  # deterministic
