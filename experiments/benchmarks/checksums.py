"""Checksum cost: a data-cache entry verified on a cached start, and a checkpoint's CRC-32s on load.

Baselines, in the same run: a cached start that trusts its entry (already verified in this
process, as every later lookup is), and `torch.load(weights_only=True)` of the same checkpoint
without seqlab's checks (CRC-32 of every archive member, structure, finite weights). Saving
costs nothing extra: the CRC-32s are the ones torch.save writes into its zip archive anyway,
and the cache's SHA-256s are computed once, when an entry is built.

    python experiments/benchmarks/checksums.py [--repeats 5] [--data-dir ../shared/data] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import benchmark_parser
from hydra import compose, initialize_config_module

import seqlab.data.cache as cache
from seqlab.data.prepare import prepare
from seqlab.runs.checkpoints import load_checkpoint

DATASETS = {"tinyshakespeare (char)": ["experiment=shakespeare_gpt"],
            "multi30k (bpe)": ["experiment=multi30k_transformer"]}  # fmt: skip


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def cache_table(data_dir: Path, repeats: int) -> None:
    print(
        f"{'cached start':24s} {'MB':>7s} {'trusting ms':>12s} {'verifying ms':>13s} {'ratio':>6s}"
    )
    for label, overrides in DATASETS.items():
        cfg = compose("train", [*overrides, "paths.output_dir=x"])
        with tempfile.TemporaryDirectory() as folder:
            entry, _ = prepare(cfg.data, cfg.tokenizer, data_dir, folder)
            size = sum(p.stat().st_size for p in entry.path.iterdir()) / 1e6

            def start(verify: bool, cfg=cfg, folder=folder) -> None:
                if verify:
                    cache._verified.clear()  # as a new process
                prepare(cfg.data, cfg.tokenizer, data_dir, folder)

            trusting = median_ms(lambda: start(False), repeats)
            verifying = median_ms(lambda: start(True), repeats)
        print(f"{label:24s} {size:>7.1f} {trusting:>12.1f} {verifying:>13.1f} "
              f"{verifying / trusting:>5.2f}x")  # fmt: skip


def checkpoint_table(repeats: int, quick: bool) -> None:
    print(
        f"\n{'checkpoint':24s} {'MB':>7s} {'torch.load ms':>14s} {'seqlab ms':>10s} {'ratio':>6s}"
    )
    sizes = {"1M params": 1_000_000} if quick else {"1M params": 1_000_000, "10M params": 10_000_000,
                                                     "50M params": 50_000_000}  # fmt: skip
    for label, n in sizes.items():
        width = 512
        state = {f"net.layer{i}.weight": torch.randn(width, width) for i in range(n // width**2)}
        ckpt = {"state_dict": state, "seqlab": {"config": {"model": {}, "tokenizer": {}},
                                                 "tokenizers": {}}}  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "last.ckpt"
            torch.save(ckpt, path)
            size = path.stat().st_size / 1e6
            plain = median_ms(
                lambda p=path: torch.load(p, map_location="cpu", weights_only=True), repeats
            )
            checked = median_ms(lambda p=path: load_checkpoint(p), repeats)
        print(f"{label:24s} {size:>7.1f} {plain:>14.1f} {checked:>10.1f} {checked / plain:>5.2f}x")


def main() -> None:
    parser = benchmark_parser(__doc__, "one small checkpoint, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    print(
        f"python {sys.version.split()[0]}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        if not args.quick:
            cache_table(args.data_dir, repeats)
    checkpoint_table(repeats, args.quick)


if __name__ == "__main__":
    main()
