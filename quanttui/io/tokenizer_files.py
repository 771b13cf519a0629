"""A model's tokenizer from its files, for counting chat prompts where no engine can (issue 19).

vLLM's /tokenize counts exactly as the engine will; an engine without it (llama.cpp's server) or
an operator who names the files (`--tokenizer DIR`) counts here instead, the way vLLM and
transformers do: the chat template (`chat_template.jinja`, else `tokenizer_config.json`'s
`chat_template`) rendered by Jinja in the sandbox Hugging Face documents for chat templates,
then `tokenizer.json` encoded without added special tokens, by the `tokenizers` library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
TEMPLATE_FILE = "chat_template.jinja"
SPECIAL_FILE = "special_tokens_map.json"
_PROBE = [{"role": "user", "content": "Hello."}]  # rendered once at load: a bad template fails up front
_SPECIAL = ("bos_token", "eos_token", "pad_token", "unk_token")


class TokenizerFilesError(ValueError):
    """One line naming the file and what is wrong with it."""


class _TemplateRaised(Exception):
    pass


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(
    value: Any,
    indent: int | None = None,
    ensure_ascii: bool = False,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
) -> str:
    return json.dumps(
        value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=separators
    )


class _Generation(Extension):
    """`{% generation %}...{% endgeneration %}`, which transformers' templates may use to mark the
    assistant's part for training masks: for counting, its body renders as it is."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller: Any) -> str:
        return str(caller())


def has_tokenizer_files(folder: Path) -> bool:
    return (folder / TOKENIZER_FILE).is_file()


@dataclass(frozen=True)
class TokenizerFiles:
    """The tokenizer and chat template of one model folder."""

    folder: Path
    tokenizer: Tokenizer
    template: Any  # a compiled jinja2 Template
    special: dict[str, str]

    @classmethod
    def load(cls, folder: Path) -> TokenizerFiles:
        folder = Path(folder).expanduser()
        path = folder / TOKENIZER_FILE
        if not path.is_file():
            raise TokenizerFilesError(f"{path}: no such file (a Hugging Face tokenizer folder has one)")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust library's own message, on one line
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise TokenizerFilesError(f"{path}: not a tokenizer: {first}") from None
        # A saved tokenizer may carry the settings it was last used with (llm-compressor leaves its
        # calibration's 256-token truncation in the AWQ copy's file); transformers, and so vLLM,
        # encode a prompt whole, unpadded.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        config = _read_config(folder / CONFIG_FILE)
        source = _template_source(folder, config)
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, _Generation]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            template = env.from_string(source)
        except TemplateError as exc:
            raise TokenizerFilesError(f"{folder}: the chat template does not parse: {exc}") from None
        given = {**_read_config(folder / SPECIAL_FILE), **config}  # the config wins, as in transformers
        special = {key: _token_text(given[key]) for key in _SPECIAL if given.get(key) is not None}
        files = cls(folder, tokenizer, template, special)
        files.render_chat(_PROBE)
        return files

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The prompt text the engine makes of these messages, answer turn opened."""
        try:
            return self.template.render(
                messages=messages, add_generation_prompt=True, tools=None, documents=None, **self.special
            )
        except (TemplateError, _TemplateRaised) as exc:
            raise TokenizerFilesError(
                f"{self.folder}: the chat template refuses these messages: {exc}"
            ) from None
        except Exception as exc:  # a template's own error (a TypeError, a bad index): one line, no traceback
            raise TokenizerFilesError(
                f"{self.folder}: the chat template fails on these messages: {type(exc).__name__}: {exc}"
            ) from None

    def count_chat(self, messages: list[dict[str, str]]) -> int:
        """How many tokens the engine will count for these messages."""
        return len(self.tokenizer.encode(self.render_chat(messages), add_special_tokens=False).ids)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerFilesError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TokenizerFilesError(f"{path}: not a JSON object")
    return data


def _template_source(folder: Path, config: dict[str, Any]) -> str:
    file = folder / TEMPLATE_FILE
    if file.is_file():
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenizerFilesError(f"{file}: not readable: {exc}") from None
    value = config.get("chat_template")
    if isinstance(value, list):  # named templates: the default one is what a chat request uses
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        value = named.get("default")
    if not isinstance(value, str) or not value:
        raise TokenizerFilesError(
            f"{folder}: no chat template ({TEMPLATE_FILE}, or field 'chat_template' in {CONFIG_FILE})"
        )
    return value


def _token_text(value: Any) -> str:
    """A special token as tokenizer_config.json gives it: a string or {"content": ...}."""
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return str(value)
