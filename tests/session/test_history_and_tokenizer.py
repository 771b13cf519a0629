"""Conversations with each variant's own answers as history, and exact prompt lengths counted from
a model's tokenizer files where no engine has /tokenize (issue 19), on simulated engines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from tokenizers import Tokenizer, models, pre_tokenizers

from quanttui.core.loadplan import LoadPlan
from quanttui.io.prompt_file import shipped_conversations

TURNS = shipped_conversations()


def quanttui(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=timeout
    )


def read(path: Path) -> tuple[dict, list[dict]]:
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def answer(url: str, model: str, messages: list[dict], max_tokens: int) -> str:
    """What the engine answers to these messages, asked over HTTP outside the load."""
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    reply = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
    return reply.json()["choices"][0]["message"]["content"]


def words(messages: list[dict]) -> int:
    return len("\n".join(m["content"] for m in messages).split())  # the simulator's token count


def test_own_history_carries_each_variants_own_answers_to_the_earlier_turns(tmp_path, sim_server):
    bf16 = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1)
    awq = sim_server(model="qwen-awq", ttft_ms=5, itl_ms=1, drift=1.0)  # answers unlike bf16's
    out = tmp_path / "own"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={bf16.url}", "--endpoint", f"awq={awq.url}", "--workload", "multi-turn",
        "--history", "own", "--concurrency", "3", "--requests-per-step", "27", "--max-tokens", "6",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header, recorded = read(out / "recording.jsonl")
    assert LoadPlan.from_dict(header["config"]["plan"]).own_history
    assert header["config"]["prompts"] == (
        "shipped conversations, turn by turn, each variant's own answers as history (12 conversations, 27 turns)"
    )
    results = [e for e in recorded if e["type"] == "RequestResult"]
    by_place = {(r["variant"], r["index"]): r for r in results}
    later = 0
    for (variant, index), result in by_place.items():
        prompt = TURNS[index % len(TURNS)]
        messages = prompt.as_messages()
        number = int(prompt.id.rpartition("#")[2])
        if number == 1:
            continue
        server = bf16 if variant == "bf16" else awq
        model = "qwen-bf16" if variant == "bf16" else "qwen-awq"
        own: list[dict] = []  # the conversation as this variant would have answered it
        for message in messages:
            if message["role"] == "assistant":
                message = {"role": "assistant", "content": answer(server.url, model, own, 6)}
            own.append(message)
        assert result["prompt_tokens"] == words(own), (variant, prompt.id)
        assert result["prompt_tokens"] < words(messages)  # the recorded answers are longer than 6 tokens
        earlier = by_place[(variant, index - 1)]  # the turn before, in the same pass over the set
        assert result["start"] >= earlier["t"]  # asked only once the answer before it was in
        later += 1
    assert later >= 2 * 15  # both variants' later turns (15 of 27 turns are not a first turn)

    report = quanttui("report", str(out / "recording.jsonl"), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "capacity.md").read_text()
    assert "each variant's own answers as history" in text
    assert "the variants' requests differ after a conversation's first turn" in text


def test_recorded_history_is_the_default_and_identical_for_every_variant(tmp_path, sim_server):
    bf16 = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1)
    awq = sim_server(model="qwen-awq", ttft_ms=5, itl_ms=1, drift=1.0)
    out = tmp_path / "recorded"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={bf16.url}", "--endpoint", f"awq={awq.url}", "--workload", "multi-turn",
        "--concurrency", "3", "--requests-per-step", "27", "--max-tokens", "6", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, recorded = read(out / "recording.jsonl")
    tokens: dict[int, set[int]] = {}
    for r in (e for e in recorded if e["type"] == "RequestResult"):
        tokens.setdefault(r["index"], set()).add(r["prompt_tokens"])
        assert r["prompt_tokens"] == words(TURNS[r["index"] % len(TURNS)].as_messages())
    assert all(len(seen) == 1 for seen in tokens.values())  # both variants got the same requests


def test_own_history_in_open_loop_waits_for_the_answer_without_counting_it_as_lag(tmp_path, sim_server):
    # 150 ms to a first token at 20 requests/s: a conversation's next turn is due before the answer
    # it needs is in, and waits for it; the send lag is measured from then on.
    server = sim_server(model="qwen-bf16", ttft_ms=150, itl_ms=1)
    out = tmp_path / "open"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--workload", "multi-turn", "--history", "own",
        "--rate", "20", "--arrivals", "constant", "--requests-per-step", "27", "--max-tokens", "4",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, recorded = read(out / "recording.jsonl")
    results = {r["index"]: r for r in recorded if r["type"] == "RequestResult"}
    waited = 0
    for index, result in results.items():
        if index == 0 or not TURNS[index % len(TURNS)].id.endswith(("#2", "#3", "#4")):
            continue
        earlier = results[index - 1]
        assert result["start"] >= earlier["t"]
        assert result["start"] - result["intended"] < 0.1  # the wait is the conversation's, not lag
        waited += result["intended"] > earlier["intended"] + 0.05 + 0.01  # moved past its 50 ms slot
    assert waited >= 5


def test_own_history_needs_conversations(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1)
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--history", "own", "--concurrency", "1",
        "--max-tokens", "4", "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "quanttui sweep: error: --history own applies to conversations: --workload multi-turn, or --prompts with conversations"
    ]
    assert not (tmp_path / "x").exists()


def word_tokenizer(folder: Path) -> Path:
    """A real tokenizer whose tokens are the simulator's (whitespace-separated words), and a chat
    template that joins the messages' texts as the simulator does."""
    folder.mkdir()
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "chat_template.jinja").write_text(
        "{% for message in messages %}{{ message['content'] }}\n{% endfor %}"
    )
    return folder


def test_exact_lengths_counted_from_tokenizer_files_where_no_engine_has_tokenize(tmp_path, sim_server):
    server = sim_server(model="gguf", ttft_ms=5, itl_ms=1)  # no /tokenize, as llama.cpp's servers
    folder = word_tokenizer(tmp_path / "tok")
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"gguf={server.url}", "--tokenizer", str(folder), "--concurrency", "2",
        "--requests-per-step", "16", "--input-tokens", "uniform:20-60", "--length-seed", "3",
        "--max-tokens", "2", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header, recorded = read(out / "recording.jsonl")
    assert header["config"]["tokenizer"] == str(folder)
    plan = LoadPlan.from_dict(header["config"]["plan"])
    results = [e for e in recorded if e["type"] == "RequestResult"]
    assert len({r["prompt_tokens"] for r in results}) > 5
    for r in results:  # the files counted what the engine counted, for every request
        assert r["prompt_tokens"] == plan.prompt_lengths.draw(-1, r["index"])
    notes = [e["text"] for e in recorded if e["type"] == "OperatorNote"]
    assert notes == [f"exact prompt lengths counted by the tokenizer files in {folder}"]
    assert notes[0] in done.stderr

    bad = quanttui(
        "sweep", "--endpoint", f"gguf={server.url}", "--tokenizer", str(tmp_path / "nowhere"),
        "--concurrency", "1", "--input-tokens", "20", "--max-tokens", "2", "--out", str(tmp_path / "bad"),
    )  # fmt: skip
    assert (
        bad.returncode == 2
        and "--tokenizer: " in bad.stderr
        and "nowhere/tokenizer.json: no such file" in bad.stderr
    )
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    alone = quanttui(
        "sweep", "--endpoint", f"gguf={server.url}", "--concurrency", "1", "--input-tokens", "20",
        "--max-tokens", "2", "--out", str(tmp_path / "alone"),
    )  # fmt: skip
    assert alone.returncode == 2 and "name the model's tokenizer files with --tokenizer DIR" in alone.stderr


def test_a_failed_earlier_turn_leaves_its_recorded_answer_and_is_counted(tmp_path, sim_server):
    server = sim_server(model="qwen-bf16", ttft_ms=5, itl_ms=1)
    chats = tmp_path / "chats.jsonl"
    recorded_answer = "Restart the router, then sign in to the VPN again with your usual account."
    lines = [
        {"id": "broken", "messages": [
            {"role": "user", "content": "My VPN drops. [[fault:http_500]]"},
            {"role": "assistant", "content": recorded_answer},
            {"role": "user", "content": "It still drops."},
            {"role": "assistant", "content": "Then call support."},
        ]},
        {"id": "fine", "messages": [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris, on the Seine, is the capital of France."},
            {"role": "user", "content": "And of Spain?"},
            {"role": "assistant", "content": "Madrid."},
        ]},
    ]  # fmt: skip
    chats.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "out"
    done = quanttui(
        "sweep", "--endpoint", f"bf16={server.url}", "--prompts", str(chats), "--history", "own",
        "--concurrency", "1", "--requests-per-step", "4", "--max-tokens", "3", "--max-error-rate", "1",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    header, recorded = read(out / "recording.jsonl")
    assert (
        header["config"]["prompts"]
        == f"{chats}, conversations turn by turn, each variant's own answers as history (4 turns)"
    )
    results = {r["index"]: r for r in recorded if r["type"] == "RequestResult"}
    assert not results[0]["ok"] and results[1]["ok"]  # broken#1 failed; broken#2 carried the recorded answer
    assert results[1]["prompt_tokens"] == len(
        f"My VPN drops. [[fault:http_500]]\n{recorded_answer}\nIt still drops.".split()
    )
    notes = [e for e in recorded if e["type"] == "OperatorNote"]
    assert [(n["variant"], n["text"]) for n in notes] == [
        (
            "bf16",
            "1 of 2 later turns carried a recorded answer where the variant's own earlier answer had failed",
        )
    ]


def test_a_launched_variants_model_folder_counts_when_no_engine_has_tokenize(tmp_path, sim_server):
    import asyncio

    from quanttui.core.events import EndpointInfo
    from quanttui.io.openai_client import Timeouts
    from quanttui.session.length_prompts import WorkloadPrompts

    server = sim_server(model="gguf", ttft_ms=5, itl_ms=1)
    folder = word_tokenizer(tmp_path / "model")
    endpoint = EndpointInfo(t=0.0, variant="gguf", url=server.url, model="gguf")
    made = WorkloadPrompts([endpoint], None, Timeouts(), 4, model_dirs=[tmp_path / "weights.gguf", folder])
    prompts = asyncio.run(made.of_lengths([30, 45, 30]))
    assert [len(" ".join(c for _, c in p.messages).split()) for p in prompts] == [30, 45, 30]
    assert made.counted_by == f"the tokenizer files in {folder}"
