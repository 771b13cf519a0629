"""What a simulated engine answers (`--answers book`): a deterministic answer per (model, prompt),
and for a variant with `--drift` > 0 an answer that departs from it on some prompts, in the ways
quantized models go wrong.

The answer book knows the shipped quality prompts (quanttui/data/quality/default.jsonl) and
answers them correctly; any other prompt gets a plain generic answer. A drifting model keeps the
book's answer on most prompts (word for word, as a reference would give it) and, on a share
`drift` of them (chosen by a hash of the model name and the prompt, so the same prompts every
run), answers with one of: a word changed, a wrong number, a wrong fact, a decoding loop (until
max_tokens: finish_reason "length"), a ramble past the point (cut by max_tokens), or broken code
(a syntax error, or a subtle bug the code asserts catch). So a simulated triage shows what triage
is for: flags, divergent answers, and identical ones.

An answer is tokens (whitespace-led pieces that join to the text) plus an optional loop that
repeats after them; the server paces them exactly as before (one piece per token), and each
answer is made once per distinct prompt (cached), so the load path costs a lookup.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

DRIFT_KINDS = ("word", "number", "fact", "loop", "ramble", "code_syntax", "code_logic")

# (a phrase of the prompt, lower case; the reference answer)
BOOK: tuple[tuple[str, str], ...] = (
    ("capital of france", "The capital of France is Paris."),
    ("does water boil", "Water boils at 100 degrees Celsius at sea level."),
    ("how many planets", "There are 8 planets in our solar system."),
    ("largest ocean", "The Pacific Ocean is the largest ocean on Earth."),
    ("wrote the play hamlet", "Hamlet was written by William Shakespeare."),
    ("why is the sky blue", "Sunlight is made of many colors. When it comes into the air, tiny bits of "
     "air bounce the blue light around much more than the red light, so blue light reaches us from "
     "every part of the sky. That is why the sky looks blue."),
    ("where does rain come from", "The sun warms the water in the sea and in puddles, and it floats up "
     "into the sky as tiny drops you cannot see. High up it is cold, so the drops stick together and "
     "make a cloud. When the drops get big and heavy, they fall down as rain."),
    ("computer's memory", "A computer's memory is like a desk where it keeps the things it is working "
     "on right now, so it can reach them very quickly. When you turn the computer off the desk is "
     "cleared, which is why the things you want to keep are saved on the disk instead."),
    ("magnets stick", "A magnet pulls on iron. The door of the fridge has iron inside it, so the "
     "magnet pulls itself toward the door and holds on tight, strong enough to hold up a drawing too."),
    ("17 times 23", "17 x 23 = 17 x 20 + 17 x 3\n17 x 20 = 340\n17 x 3 = 51\n340 + 51 = 391\n\n391"),
    ("sam has 12 apples", "Sam starts with 12 apples. He gives 5 away, so 12 - 5 = 7. Then he buys "
     "8 more, so 7 + 8 = 15.\n\n15"),
    ("train leaves at 9:40", "From 9:40 to 12:40 is 3 hours, which is 180 minutes. From 12:40 to "
     "13:05 is 25 minutes more. 180 + 25 = 205.\n\n205"),
    ("shirt costs 40 dollars", "A 25 percent discount on 40 dollars is 10 dollars, so the sale price "
     "is 40 - 10 = 30.\n\n30"),
    ("average of 4, 8, 15 and 21", "The sum is 4 + 8 + 15 + 21 = 48. There are 4 numbers, so the "
     "average is 48 / 4 = 12.\n\n12"),
    ("reverse_string(s)", "```python\ndef reverse_string(s):\n    return s[::-1]\n```"),
    ("is_even(n)", "```python\ndef is_even(n):\n    return n % 2 == 0\n```"),
    ("total(numbers)", "```python\ndef total(numbers):\n    result = 0\n    for number in numbers:\n"
     "        result += number\n    return result\n```"),
    ("count_vowels(text)", "```python\ndef count_vowels(text):\n    count = 0\n    for letter in "
     "text.lower():\n        if letter in 'aeiou':\n            count += 1\n    return count\n```"),
    ("biggest(a, b, c)", "```python\ndef biggest(a, b, c):\n    return max(a, b, c)\n```"),
    ("plan the product launch", "The team moved the product launch from March to April because the "
     "supplier delayed the packaging, and marketing will update the website next week."),
    ("to make the soup", "To make the soup, fry chopped onions and carrots in butter, add vegetable "
     "stock, simmer for twenty minutes and blend it until smooth."),
    ("city library will close", "The library closes for renovation from June to August, and until "
     "then books can be borrowed from the mobile library bus at the town square on Saturday mornings."),
    ("crashes when they upload", "The app crashes on older phones when users upload photos larger "
     "than 10 megabytes, because the image resizer runs out of memory."),
    ("in which locker is the spare key", "The spare key is in locker 47."),
    ("today's code word", "HARBOR"),
)  # fmt: skip
SYNONYMS = {
    "largest": "biggest", "because": "since", "tiny": "small", "quickly": "fast", "strong": "firm",
    "moved": "pushed", "closes": "shuts", "starts": "begins", "written": "authored", "cleared": "emptied",
    "reaches": "gets to", "smooth": "creamy", "crashes": "fails", "heavy": "large", "pulls": "draws",
}  # fmt: skip
WRONG_FACTS = {
    "Paris": "Lyon", "Pacific": "Atlantic", "William Shakespeare": "Christopher Marlowe", "HARBOR": "HARVEST",
    "April": "May", "blue light": "red light", "library bus": "school bus", "iron": "copper",
}  # fmt: skip
CODE_BUGS = (
    ("[::-1]", "[::1]"), ("== 0", "== 1"), ("+= number", "+= 1"), ("'aeiou'", "'aei'"),
    ("max(a, b, c)", "max(a, c)"),
)  # fmt: skip
RAMBLE = (
    "It is also worth adding some more context here, since the question touches on several related "
    "ideas that are often explained together. In general the same reasoning applies in many similar "
    "situations, and people who study this topic tend to describe it in slightly different words. One "
    "could go further and look at the history of the idea, the common mistakes that beginners make, "
    "and the ways teachers like to present it in class. Another angle is to compare it with everyday "
    "experience, which usually makes the point easier to remember. Some books spend whole chapters "
    "on this, with diagrams, tables and exercises at the end of every section, and a glossary of the "
    "terms that come up along the way. Looking at it from the other side, there are also questions "
    "about why it matters at all, who first noticed it, and what changed once it was understood"
)
GENERIC = (
    "Here is a short answer.",
    "The key point is the one the question asks about, and the details follow from it.",
    "In most cases the simplest explanation is also the right one.",
    "A small example usually makes it clearer than a long definition.",
    "That is the main idea in a few sentences.",
)
_TOKEN = re.compile(r"\s*\S+")
_NUMBER = re.compile(r"\d+")
_PROMPT_TAIL = 1200  # the book's phrases sit in a prompt's question (the end of a long context)


@dataclass(frozen=True)
class Answer:
    tokens: tuple[str, ...]  # the pieces before EOS (one per token)
    loop: tuple[str, ...] = ()  # then these, over and over (a model that does not stop)
    kind: str = "book"  # "book", "generic", or the drift kind

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def eos_after(self) -> float:
        """Tokens before the model would stop by itself (inf: only max_tokens stops it)."""
        return math.inf if self.loop else len(self.tokens)

    def token(self, index: int) -> str | None:
        """The text of token `index`; None past the end of an answer that stops (ignore_eos)."""
        if index < len(self.tokens):
            return self.tokens[index]
        if self.loop:
            return self.loop[(index - len(self.tokens)) % len(self.loop)]
        return None


def split_tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text))


def _hash(*parts: str) -> int:
    return zlib.crc32("\n".join(parts).encode("utf-8", "replace"))


def reference_answer(prompt: str) -> tuple[str, str]:
    """(the answer, its key): the book's answer to a prompt it knows, else a generic one."""
    tail = prompt[-_PROMPT_TAIL:].lower()
    for phrase, answer in BOOK:
        if phrase in tail:
            return answer, phrase
    h = _hash(prompt)
    sentences = [GENERIC[0], *(GENERIC[1 + (h + i) % (len(GENERIC) - 1)] for i in range(2))]
    return " ".join(sentences), ""


def _kinds(text: str) -> list[str]:
    kinds = ["word", "loop", "ramble"]
    if _NUMBER.search(text) and "```" not in text:
        kinds += ["number", "number"]
    if any(wrong in text for wrong in WRONG_FACTS):
        kinds += ["fact"]
    if "```python" in text:
        kinds = ["loop", "code_syntax", "code_logic", "code_logic"]
    return kinds


def _drifted(text: str, kind: str, h: int) -> Answer:
    tokens = split_tokens(text)
    if kind == "word":
        for word, other in SYNONYMS.items():
            if re.search(rf"\b{word}\b", text):
                return Answer(split_tokens(re.sub(rf"\b{word}\b", other, text, count=1)), kind=kind)
        return Answer(split_tokens(text + " I hope this helps!"), kind=kind)
    if kind == "number":
        last = list(_NUMBER.finditer(text))[-1]
        value = int(last.group())
        wrong = value + (1, -1, 2, 10, -10)[h % 5]
        wrong = wrong if wrong > 0 and wrong != value else value + 3
        return Answer(split_tokens(text[: last.start()] + str(wrong) + text[last.end() :]), kind=kind)
    if kind == "fact":
        right = next(w for w in WRONG_FACTS if w in text)
        return Answer(split_tokens(text.replace(right, WRONG_FACTS[right], 1)), kind=kind)
    if kind == "loop":  # a third of the answer, then its last few words over and over
        cut = max(1, len(tokens) // 3)
        phrase = tokens[max(0, cut - 2 - h % 4) : cut]
        loop = tuple(" " + t.lstrip() for t in phrase)
        return Answer(tokens[:cut], loop, kind)
    if kind == "ramble":  # the answer, then on and on (max_tokens cuts it)
        return Answer(tokens, split_tokens(" " + RAMBLE + "."), kind)
    if kind == "code_syntax":  # the colon of the def line dropped
        return Answer(split_tokens(re.sub(r"(def [^\n]*\)):", r"\1", text, count=1)), kind=kind)
    for right, wrong in CODE_BUGS:  # code_logic: a subtle bug the asserts catch
        if right in text:
            return Answer(split_tokens(text.replace(right, wrong, 1)), kind=kind)
    return Answer(tokens, kind="book")


@lru_cache(maxsize=1024)
def answer_for(model: str, prompt: str, drift: float) -> Answer:
    """The answer of `model` to `prompt` (the last user message); deterministic. With `drift` > 0,
    a departure from the reference answer on about that share of prompts."""
    text, key = reference_answer(prompt)
    if drift <= 0.0:
        return Answer(split_tokens(text), kind="book" if key else "generic")
    h = _hash(model, key or prompt)
    if (h % 10_000) / 10_000 >= drift:
        return Answer(split_tokens(text), kind="book" if key else "generic")
    kinds = _kinds(text)
    return _drifted(text, kinds[(h // 10_000) % len(kinds)], h // 10_000)
