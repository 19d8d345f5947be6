"""Data preparation at scale: seconds, tokens/s and peak memory of a first (uncached) build.

Text corpora of growing size are made locally from Tiny Shakespeare by repetition, each copy
perturbed (its lines rotated) so no two are alike; each size is prepared in a fresh process
(`task=lm model=gpt data=text_file tokenizer=...`, as `seqlab-train` prepares it) and its peak
RSS read from the OS (the main process, and the largest worker process where BPE encodes in one
process per core). Baseline: the same measurement with another seqlab source tree
(`--baseline-src <checkout>/src`, e.g. a worktree of the commit before a change), in the same run,
reported as a ratio.

    python experiments/benchmarks/data_scale.py [--sizes 25,100] [--tokenizers char,bpe]
        [--pairs 2] [--baseline-src DIR] [--data-dir ../shared/data] [--quick]

`--pairs` adds tab-separated pair files of that many million pairs (Tatoeba eng-fra repeated,
each copy rotated), prepared as `task=translation data=pairs_file data.format=tsv`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import benchmark_parser

PREPARE = """
import json, resource, sys, time
from hydra import compose, initialize_config_module
from seqlab.data.prepare import prepare
cache, overrides = sys.argv[1], json.loads(sys.argv[2])
with initialize_config_module("seqlab.conf", version_base="1.3"):
    cfg = compose("train", overrides + ["paths.output_dir=x"])
start = time.perf_counter()
entry, _ = prepare(cfg.data, cfg.tokenizer, "/", cache)
seconds = time.perf_counter() - start
counts = entry.json("meta")["counts"]
tokens = sum(v for k, v in counts.items() if k.endswith("_tokens")) or sum(
    len(entry.array(f"{split}.{side}")) for split in ("train", "val", "test") for side in ("src", "tgt"))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest worker
print(json.dumps({"seconds": seconds, "tokens": tokens, "peak_rss": rss, "worker_rss": worker}))
"""


def make_corpus(source: Path, megabytes: int, out: Path) -> Path:
    """`megabytes` MB of text: copies of `source`, the lines of copy k rotated by k * 997."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target, k = megabytes * 1_000_000, 0
    with out.open("w", encoding="utf-8") as f:
        while f.tell() < target:
            shift = (k * 997) % len(lines)
            f.writelines(lines[shift:] + lines[:shift])
            k += 1
    return out


def make_pairs(source: Path, millions: float, out: Path) -> Path:
    """`millions` M tab-separated pairs: copies of `source`'s pairs, copy k rotated by k * 997."""
    pairs = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target, k, n = int(millions * 1_000_000), 0, 0
    with out.open("w", encoding="utf-8") as f:
        while n < target:
            shift = (k * 997) % len(pairs)
            part = (pairs[shift:] + pairs[:shift])[: target - n]
            f.writelines(part)
            n, k = n + len(part), k + 1
    return out


def text_overrides(text: Path, tokenizer: str) -> list[str]:
    return ["task=lm", "model=gpt", "data=text_file", f"data.path={text}", f"tokenizer={tokenizer}"]


def pairs_overrides(tsv: Path, tokenizer: str) -> list[str]:
    return ["task=translation", "model=transformer_seq2seq", "data=pairs_file",
            "data.format=tsv", f"data.path={tsv}", f"tokenizer={tokenizer}"]  # fmt: skip


def measure(src: Path | None, overrides: list[str]) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as cache:
        proc = subprocess.run([sys.executable, "-c", PREPARE, cache, json.dumps(overrides)],
                              env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(label: str, kind: str, now: dict, was: dict | None) -> None:
    line = (f"{label:>7s} {kind:>9s} {now['tokens']:>12,d} {now['seconds']:>8.1f} "
            f"{now['tokens'] / now['seconds'] / 1e6:>7.2f} {now['peak_rss'] / 2**30:>7.2f}GB "
            f"{now.get('worker_rss', 0) / 2**30:>7.2f}GB")  # fmt: skip
    if was:
        line += (f"  {was['seconds']:.1f} s, {was['peak_rss'] / 2**30:.2f} GB, "
                 f"{was['seconds'] / now['seconds']:.2f}x faster, "
                 f"{was['peak_rss'] / now['peak_rss']:.2f}x less memory")  # fmt: skip
    print(line, flush=True)


def main() -> None:
    parser = benchmark_parser(__doc__, "a 2 MB corpus, char tokenizer only")
    parser.add_argument("--sizes", default="25,100", help="corpus sizes in MB, comma-separated")
    parser.add_argument("--tokenizers", default="char,bpe")
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument(
        "--pairs", default="", help="TSV sizes in M pairs, comma-separated (e.g. 2)"
    )
    args = parser.parse_args()
    sizes = [2] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    kinds = ["char"] if args.quick else args.tokenizers.split(",")
    source = args.data_dir / "tinyshakespeare" / "input.txt"
    head = (f"{'data':>7s} {'tokenizer':>9s} {'tokens':>12s} {'seconds':>8s} {'Mtok/s':>7s} "
            f"{'peak RSS':>9s} {'worker':>9s}")  # fmt: skip
    print(head + ("  baseline: seconds, peak RSS, ratios" if args.baseline_src else ""))

    def both(overrides: list[str]) -> tuple[dict, dict | None]:
        was = measure(args.baseline_src, overrides) if args.baseline_src else None
        return measure(None, overrides), was

    with tempfile.TemporaryDirectory() as folder:
        for mb in sizes:
            text = make_corpus(source, mb, Path(folder) / f"corpus-{mb}mb.txt")
            for kind in kinds:
                report(f"{mb}MB", kind, *both(text_overrides(text, kind)))
            text.unlink()
        for millions in [float(m) for m in args.pairs.split(",") if m]:
            tsv = make_pairs(
                args.data_dir / "tatoeba" / "eng-fra.txt", millions, Path(folder) / "pairs.tsv"
            )
            for kind in kinds:
                report(f"{millions:g}M prs", kind, *both(pairs_overrides(tsv, kind)))
            tsv.unlink()


if __name__ == "__main__":
    main()
