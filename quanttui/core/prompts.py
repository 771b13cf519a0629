"""Load prompts: the embedded default set and the shape a prompt file must have."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    id: str
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    @classmethod
    def user(cls, id: str, text: str) -> Prompt:
        return cls(id=id, messages=(("user", text),))


# Short, varied, written for this project: enough spread in prompt length to look like traffic.
_DEFAULT_TEXTS = (
    "What is the capital of France?",
    "Explain in two sentences why the sky is blue.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "List three uses of a hash map in everyday programming.",
    "A train leaves at 9:40 and arrives at 13:05. How long is the trip in minutes?",
    "Summarize the idea of supply and demand for a ten-year-old.",
    "Translate 'good morning, how are you?' into Spanish and German.",
    "What are the main differences between TCP and UDP? Answer as a short list.",
    "Describe a cat to someone who has never seen one, in four sentences.",
    "Give me a haiku about a server room at night.",
    "Why do we quantize neural network weights? Keep it brief.",
    "Write a SQL query that counts orders per customer, highest first.",
    "Explain recursion with a real-world analogy.",
    "If a shirt costs 20 dollars after a 20 percent discount, what was the original price?",
    "Name five rivers in Europe and the countries they flow through.",
    "What does a load balancer do, and when would you need one?",
)

DEFAULT_PROMPTS: tuple[Prompt, ...] = tuple(
    Prompt.user(f"default-{i:02d}", text) for i, text in enumerate(_DEFAULT_TEXTS, start=1)
)
