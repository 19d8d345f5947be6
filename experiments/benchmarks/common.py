"""What the benchmark scripts share: the command line (data root, smoke-test switch), timing
two sides in alternation, and `transformers` generation with seqlab's settings."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

# The datasets beside the repository (../shared/data) unless SEQLAB_DATA_DIR names another root.
DEFAULT_DATA_DIR = Path(
    os.environ.get("SEQLAB_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")
)


def benchmark_parser(doc: str, quick: str) -> argparse.ArgumentParser:
    """A parser described by the script's docstring, with ``--data-dir`` (a Path) and ``--quick``
    (``quick`` says what the smoke test runs)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="datasets' root (default: $SEQLAB_DATA_DIR, else ../shared/data)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {quick}")
    return parser


def time_pair(a, b, rounds: int) -> tuple[float, float, object, object]:
    """Median seconds of `a()` and `b()`, alternating; and their last outputs."""
    ta, tb = [], []
    for _ in range(rounds):
        for fn, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
            if fn is a:
                out_a = out
            else:
                out_b = out
    return statistics.median(ta), statistics.median(tb), out_a, out_b


def hf_generate(model, prompt, strategy: str, new: int, beams: int):
    """`model.generate` with seqlab's decoding settings: `new` tokens, no eos."""
    import torch

    kwargs = {"do_sample": strategy == "sample", "num_beams": beams if strategy == "beam" else 1}
    if strategy == "sample":  # plain sampling from the softmax, as seqlab's defaults
        kwargs.update(top_k=0, top_p=1.0, temperature=1.0)
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                         min_new_tokens=new, eos_token_id=None, pad_token_id=0, **kwargs)  # fmt: skip
    return out[:, prompt.size(1) :]
