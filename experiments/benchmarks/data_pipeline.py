"""Data pipeline benchmark: first start (read + clean + tokenize + cache) vs cached start.

Baseline: the first start of the same dataset in the same run. Prints one table of times and ratios.

    python experiments/benchmarks/data_pipeline.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_module

from seqlab.data.prepare import prepare

DATASETS = {  # data config → tokenizer used by its experiments
    "scan": "word",
    "scan_files": "word",
    "tinyshakespeare": "char",
    "multi30k": "word",
}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get(
        "SEQLAB_DATA_DIR", str(Path(__file__).resolve().parents[3] / "shared/data")
    )
    parser.add_argument("--data-dir", default=default)
    args = parser.parse_args()
    print(
        f"{'dataset':18s} {'tokens':>10s} {'first s':>9s} {'cached s':>9s} {'speedup':>8s} {'tok/s first':>12s}"
    )
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        for name, tok in DATASETS.items():
            cfg = compose("train", [f"data={name}", f"tokenizer={tok}", "paths.output_dir=/tmp/x"])
            with tempfile.TemporaryDirectory() as cache:
                run = functools.partial(prepare, cfg.data, cfg.tokenizer, args.data_dir, cache)
                first, cached = timed(run), timed(run)
                entry, _ = prepare(cfg.data, cfg.tokenizer, args.data_dir, cache)
                counts = entry.json("meta")["counts"]
                tokens = sum(v for k, v in counts.items() if k.endswith("_tokens"))
                if not tokens:
                    tokens = sum(len(entry.array(f"{s}.src")) + len(entry.array(f"{s}.tgt"))
                                 for s in ("train", "val", "test"))  # fmt: skip
            print(f"{name:18s} {tokens:>10,d} {first:>9.3f} {cached:>9.3f} {first / cached:>7.0f}x "
                  f"{tokens / first:>12,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
