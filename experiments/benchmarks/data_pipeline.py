"""Data pipeline benchmark: start-up cost, tokenization speed and padding of seq2seq batches.

Three tables from one run:

1. First start (read + clean + tokenize + cache) vs cached start of each dataset.
2. Tokenization: cleaning, fitting and encoding throughput of each tokenizer kind on real text
   (encoding as the pipeline does it: `encode_batch` over lines or sentences, then `pack`).
3. Padding: the fraction of padded positions in one epoch of Multi30k training batches
   (`experiment=multi30k_transformer`: at most 128 sentences and 4096 tokens per batch), from
   seqlab's length-bucketed sampler vs random batches of the same sizes and of 128 sentences.

    python experiments/benchmarks/data_pipeline.py [--data-dir ../shared/data] [--quick]
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import benchmark_parser
from hydra import compose, initialize_config_module

from seqlab.data.cache import pack
from seqlab.data.cleaning import clean_texts
from seqlab.data.datasets import load_splits
from seqlab.data.prepare import prepare
from seqlab.data.tokenizers import PAD_ID, fit_tokenizer
from seqlab.lit.build import build_datamodule

DATASETS = {  # data config → tokenizer used by its experiments
    "scan": "word",
    "scan_files": "word",
    "tinyshakespeare": "char",
    "multi30k": "word",
}
TOKENIZERS = {  # (data config, tokenizer overrides) timed in table 2
    "tinyshakespeare char": ("tinyshakespeare", ["tokenizer=char"]),
    "multi30k word": ("multi30k", ["tokenizer=word"]),
    "multi30k bpe 8k": ("multi30k", ["tokenizer=bpe", "tokenizer.vocab_size=8000"]),
}


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def start_table(data_dir: Path, datasets: list[str]) -> None:
    print(f"{'dataset':18s} {'tokens':>10s} {'first s':>9s} {'cached s':>9s} {'speedup':>8s} "
          f"{'tok/s first':>12s}")  # fmt: skip
    for name in datasets:
        cfg = compose(
            "train", [f"data={name}", f"tokenizer={DATASETS[name]}", "paths.output_dir=x"]
        )
        with tempfile.TemporaryDirectory() as cache:
            run = functools.partial(prepare, cfg.data, cfg.tokenizer, data_dir, cache)
            first, (entry, _) = timed(run)
            cached, _ = timed(run)
            counts = entry.json("meta")["counts"]
            tokens = sum(v for k, v in counts.items() if k.endswith("_tokens"))
            if not tokens:
                tokens = sum(len(entry.array(f"{s}.src")) + len(entry.array(f"{s}.tgt"))
                             for s in ("train", "val", "test"))  # fmt: skip
        print(f"{name:18s} {tokens:>10,d} {first:>9.3f} {cached:>9.3f} {first / cached:>7.0f}x "
              f"{tokens / first:>12,.0f}")  # fmt: skip


def tokenizer_table(data_dir: Path, quick: bool) -> None:
    print(f"\n{'tokenizer':22s} {'tokens':>10s} {'clean s':>8s} {'fit s':>7s} {'encode s':>9s} "
          f"{'encode tok/s':>13s} {'all tok/s':>10s}")  # fmt: skip
    for label, (data, overrides) in TOKENIZERS.items():
        cfg = compose("train", [f"data={data}", *overrides, "paths.output_dir=x"])
        train = load_splits(cfg.data, data_dir)["train"]
        if isinstance(train, str):  # a text stream: encoded line by line, as the cache does
            texts = train.splitlines(keepends=True)
        else:
            texts = [t for pair in train for t in pair[:2]]
        if quick:
            texts = texts[: len(texts) // 10]
        cleaning = cfg.data.get("cleaning") or {}
        clean_s, texts = timed(lambda t=texts, c=cleaning: clean_texts(
            t, normalize=c.get("normalize"), collapse_whitespace=c.get("collapse_whitespace", True),
            lowercase=c.get("lowercase", False)))  # fmt: skip
        tok = cfg.tokenizer
        fit_s, tokenizer = timed(lambda t=texts, k=tok: fit_tokenizer(
            t, k.kind, vocab_size=k.get("vocab_size"), min_freq=k.min_freq))  # fmt: skip
        encode_s, (flat, _) = timed(lambda t=texts, z=tokenizer: pack(z.encode_batch(t)))
        n = len(flat)
        print(f"{label:22s} {n:>10,d} {clean_s:>8.3f} {fit_s:>7.3f} {encode_s:>9.3f} "
              f"{n / encode_s:>13,.0f} {n / (clean_s + fit_s + encode_s):>10,.0f}")  # fmt: skip


def padding(batches) -> tuple[float, float, float, int]:
    """(overall, source, target) padded fraction over batches of a seq2seq loader, batch count."""
    real = {"src": 0, "tgt": 0}
    total = {"src": 0, "tgt": 0}
    count = 0
    for batch in batches:
        count += 1
        for side in ("src", "tgt"):
            real[side] += int((batch[side] != PAD_ID).sum())
            total[side] += batch[side].numel()
    frac = {s: 1 - real[s] / total[s] for s in real}
    overall = 1 - sum(real.values()) / sum(total.values())
    return overall, frac["src"], frac["tgt"], count


def padding_table(data_dir: Path, cache_dir: str) -> None:
    cfg = compose("train", ["experiment=multi30k_transformer", f"paths.data_dir={data_dir}",
                            f"paths.cache_dir={cache_dir}", "paths.output_dir=x"])  # fmt: skip
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    loader = datamodule.train_dataloader()
    sizes = [len(b) for b in loader.batch_sampler]
    rng = np.random.default_rng(0)

    def random_batches(lengths: list[int]):
        order, start = rng.permutation(len(loader.dataset)), 0
        for n in lengths:
            yield loader.collate_fn([loader.dataset[int(i)] for i in order[start : start + n]])
            start += n

    n_examples = len(loader.dataset)
    fixed = [128] * (n_examples // 128) + ([n_examples % 128] if n_examples % 128 else [])
    rows = {
        "length buckets (seqlab)": padding(loader),
        "random, same batch sizes": padding(random_batches(sizes)),
        "random, 128 sentences": padding(random_batches(fixed)),
    }
    print(f"\nMulti30k train, one epoch ({n_examples:,} pairs; batches of at most "
          f"{cfg.loader.batch_size} sentences / {cfg.loader.max_tokens} tokens)")  # fmt: skip
    print(f"{'batches':26s} {'count':>6s} {'padding':>8s} {'source':>8s} {'target':>8s}")
    for name, (overall, src, tgt, count) in rows.items():
        print(f"{name:26s} {count:>6,d} {overall:>8.1%} {src:>8.1%} {tgt:>8.1%}")


def main() -> None:
    parser = benchmark_parser(__doc__, "two datasets, 10%% text")
    args = parser.parse_args()
    torch.set_num_threads(1)
    datasets = ["scan", "multi30k"] if args.quick else list(DATASETS)
    with (
        initialize_config_module("seqlab.conf", version_base="1.3"),
        tempfile.TemporaryDirectory() as cache,
    ):
        start_table(args.data_dir, datasets)
        tokenizer_table(args.data_dir, args.quick)
        padding_table(args.data_dir, cache)


if __name__ == "__main__":
    main()
