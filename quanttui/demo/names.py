"""Which variants a demo runs: BF16 and AWQ by default, all four with `--all` (the same names on
the real engines and on the simulators)."""

TWO = ("bf16", "awq")
ALL = ("bf16", "awq", "gptq", "gguf")


def demo_names(all_four: bool) -> tuple[str, ...]:
    return ALL if all_four else TWO
