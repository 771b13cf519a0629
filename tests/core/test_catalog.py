"""The failure catalog: golden files with hostile text, and tables that always render.

Regenerate the goldens after an intended change with QUANTTUI_UPDATE_GOLDEN=1.
"""

import json
import os
import re
from pathlib import Path

from quanttui.core.catalog import CatalogPrompt, escape_cell, fenced, render_markdown
from quanttui.core.triage import Divergence, Flag, Tag, TriageOutput
from quanttui.io.catalog_export import write_catalog

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
HOSTILE = "a | b\nline two <script>alert(1)</script> ```x``` `````y [bold red]R[/] \x1b[31mred\x1b[0m é 雨"

PROMPTS = [
    CatalogPrompt("fact-1", "factual", "Capital of France?"),
    CatalogPrompt("code-1", "code", "Write f | g in ```python```"),
    CatalogPrompt("eli5-1", "eli5", "Why is the sky blue?"),
    CatalogPrompt("math-1", "reasoning", "17*23?"),
]
OUTPUTS = [
    TriageOutput("fact-1", "bf16", "Paris.", "stop", 3),
    TriageOutput("fact-1", "awq", "Lyon | maybe\n<b>", "stop", 5, flags=(Flag("reference_mismatch", "missing: 'Paris'"),)),
    TriageOutput("code-1", "bf16", "```python\ndef f():\n    return 1\n```", "stop", 12),
    TriageOutput("code-1", "awq", HOSTILE, "length", 64, flags=(Flag("truncated", "finish_reason length"),
                                                                Flag("code_syntax", "invalid syntax at line 1"))),
    TriageOutput("eli5-1", "bf16", "Light scatters.", "stop", 4),
    TriageOutput("eli5-1", "awq", "", "stop", 0, flags=(Flag("empty", "the answer is empty"),)),
    TriageOutput("math-1", "bf16", "391", "stop", 2),
    TriageOutput("math-1", "awq", "392", "stop", 2, flags=(Flag("numeric_mismatch", "expected 391, found 392"),)),
]  # fmt: skip
TAGS = {
    ("fact-1", "bf16"): Tag("fact-1", "bf16", "ok"),
    ("fact-1", "awq"): Tag(
        "fact-1", "awq", "wrong_answer", "# says Lyon | not Paris", "see `notes`\n</details>"
    ),
    ("code-1", "bf16"): Tag("code-1", "bf16", "ok"),
    ("code-1", "awq"): Tag("code-1", "awq", "broken_code", "```breaks``` fences", HOSTILE),
    ("math-1", "awq"): Tag("math-1", "awq", "wrong_answer", "off by one"),
}
DIVERGENCES = [
    Divergence("fact-1", "awq", "bf16", 3, 0.2, 0.67),
    Divergence("code-1", "awq", "bf16", 12, 0.05, 0.92),
    Divergence("math-1", "awq", "bf16", 0, None, None, "the reference sent no logprobs"),
]


def table_rows(markdown: str) -> list[list[str]]:
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows and rows[-1] is not None:
            rows.append(None)
    tables, current = [], []
    for row in rows:
        if row is None:
            if current:
                tables.append(current)
            current = []
        else:
            current.append(row)
    if current:
        tables.append(current)
    return tables


def cells(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_golden_files(tmp_path):
    paths = write_catalog(tmp_path, "Failure catalog: golden", "4 prompts, hostile text", PROMPTS, ["bf16", "awq"],
                          OUTPUTS, TAGS, DIVERGENCES)  # fmt: skip
    assert [p.name for p in paths] == ["failure_catalog.md", "failure_catalog.csv", "failure_catalog.json"]
    for path in paths:
        golden = GOLDEN / path.name
        if os.environ.get("QUANTTUI_UPDATE_GOLDEN"):
            golden.write_bytes(path.read_bytes())
        assert path.read_text("utf-8") == golden.read_text("utf-8"), path.name
    data = json.loads(paths[2].read_text("utf-8"))
    assert data["outputs"][3]["text"] == HOSTILE  # the JSON keeps the text exactly


def test_every_table_row_has_the_header_s_cell_count_and_nothing_escapes():
    markdown = render_markdown("t", "c", PROMPTS, ["bf16", "awq"], OUTPUTS, TAGS, DIVERGENCES)
    tables = table_rows(markdown)
    assert len(tables) == 2
    for table in tables:
        width = len(cells(table[0]))
        assert all(len(cells(row)) == width for row in table), table
    outside_fences = re.sub(r"(`{3,})text\n.*?\n\1", "", markdown, flags=re.S)  # code blocks show text as is
    assert "<script>" not in outside_fences and "</details>" not in outside_fences
    assert "\x1b" not in markdown
    assert "\n# says" not in markdown  # a symptom cannot become a heading
    assert "| bf16_ok? | awq_issue? |" in markdown
    # Quoted answers: the fence is longer than any backtick run inside, so it cannot be closed early.
    assert "``````text\n" + HOSTILE.replace("\x1b[31m", "").replace("\x1b[0m", "") in markdown
    assert "awq fails more than bf16 in: factual (1 vs 0), code (1 vs 0), reasoning (1 vs 0)" in markdown
    assert "mean KL 0.1250 nats, top-1 agreement 79.5% (2 prompts)" in markdown


def test_three_variants_get_one_column_each():
    outputs = OUTPUTS + [TriageOutput(o.prompt_id, "gptq", o.text, o.finish_reason, o.output_tokens) for o in OUTPUTS
                         if o.variant == "bf16"]  # fmt: skip
    markdown = render_markdown("t", "c", PROMPTS, ["bf16", "awq", "gptq"], outputs, TAGS, DIVERGENCES)
    header = cells(table_rows(markdown)[0][0])
    assert [c.strip() for c in header] == ["prompt&#95;id" if "&#95;" in header[0] else "prompt_id", "category",
                                           "bf16", "awq", "gptq", "symptom", "notes"]  # fmt: skip
    assert "gptq fails more than bf16 in: no category" in markdown


def test_escape_cell_and_fences():
    assert escape_cell("a|b") == "a&#124;b"
    assert escape_cell("one\ntwo") == "one<br>two"
    assert escape_cell("<b>&") == "&lt;b&gt;&amp;"
    assert escape_cell("`code`") == "&#96;code&#96;"
    assert escape_cell("[x](javascript:1)") == "&#91;x&#93;(javascript:1)"
    assert escape_cell("\x1b[31mred") == "red"
    assert escape_cell("   ") == " "
    assert fenced("has ``` inside").startswith("````text\n")


def test_more_than_two_variants_keep_the_flags_of_untagged_cells(tmp_path):
    """The shipped 4-variant triage: every untagged cell of a flagged answer names its flags (the
    table read "untagged" everywhere though 19 prompts carry flags)."""
    from quanttui.io.catalog_export import export_triage, load_triage

    state, _ = load_triage(Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-triage-all.jsonl")
    assert len(state.variants) == 4 and state.counts()["flagged"] == 19
    state.load_tags({("math-multiply", "gptq"): Tag("math-multiply", "gptq", "wrong_answer", "392")})
    export_triage(state, tmp_path, ("md",), "t")
    table = table_rows((tmp_path / "failure_catalog.md").read_text("utf-8"))[0]
    header = [c.strip() for c in cells(table[0])]
    assert header[2:6] == ["bf16", "awq", "gptq", "gguf"]
    by_prompt = {cells(line)[0].strip(): [c.strip() for c in cells(line)] for line in table[2:]}
    flagged_rows = 0
    for row in state.rows.values():
        shown = by_prompt[row.prompt.prompt_id]
        for column, variant in enumerate(header[2:6], start=2):
            answer = row.answers[variant]
            tag = state.tags.get((row.prompt.prompt_id, variant))
            if tag is not None:
                assert shown[column] == tag.verdict
            elif answer.flags:
                assert shown[column] == f"untagged (flags: {', '.join(f.kind for f in answer.flags)})"
            else:
                assert shown[column] == "untagged"
        flagged_rows += state.flagged(row)
    assert flagged_rows == 19
    assert by_prompt["math-multiply"][4] == "wrong_answer"
