"""What a denoising autoencoder's latent space holds: `module.encode(lines)` (mean-pooled encoder
states) on the held-out tail of Tiny Shakespeare (the last 10 % of lines: about the text the runs
validate and test on, never trained on).

Three readings, for each checkpoint given:
- retrieval: each line damaged by deleting 15 % of its characters at random must find its clean
  self among all held-out lines by cosine similarity (top-1 / top-5); a bag-of-characters vector
  (counts of each character) is the baseline that knows spelling but not order;
- speaker tags: how often a speaker line ("GREMIO:") has another speaker line as its nearest
  neighbour, against their share of the lines;
- nearest neighbours of a few lines, printed for reading.

    python experiments/shakespeare_denoise/latent.py CKPT [CKPT ...] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.lit.build import load_module

HERE = Path(__file__).resolve().parent
QUERIES = ("BAPTISTA:", "God send you joy, Petruchio! 'tis a match.", "My lord it shall be done.")


def held_out_lines(data_dir: Path, fraction: float = 0.1) -> list[str]:
    lines = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").split("\n")
    tail = lines[int(len(lines) * (1 - fraction)) :]
    return list(dict.fromkeys(line for line in tail if len(line.strip()) >= 3))  # unique, in order


def delete_chars(line: str, rate: float, rng: random.Random) -> str:
    kept = [c for c in line if rng.random() >= rate]
    return "".join(kept) or line[:1]


def bag_of_chars(lines: list[str], alphabet: list[str]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(alphabet)}
    out = torch.zeros(len(lines), len(alphabet))
    for row, line in enumerate(lines):
        for c in line:
            if c in index:
                out[row, index[c]] += 1
    return out


def retrieval(keys: torch.Tensor, queries: torch.Tensor) -> tuple[float, float]:
    """Top-1 and top-5 accuracy of finding row i of keys from row i of queries (cosine)."""
    sims = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T
    top = sims.topk(min(5, len(keys)), dim=-1).indices
    target = torch.arange(len(keys)).unsqueeze(1)
    return float((top[:, :1] == target).any(-1).float().mean()), float(
        (top == target).any(-1).float().mean()
    )


def speaker_agreement(vectors: torch.Tensor, lines: list[str]) -> tuple[float, float]:
    is_tag = torch.tensor([line.endswith(":") and line[:-1].isupper() for line in lines])
    sims = F.normalize(vectors, dim=-1) @ F.normalize(vectors, dim=-1).T
    sims.fill_diagonal_(-2)
    nearest = sims.argmax(-1)
    return float(is_tag[nearest][is_tag].float().mean()), float(is_tag.float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get(
        "SEQLAB_DATA_DIR", HERE.parents[2] / "shared" / "data")))  # fmt: skip
    parser.add_argument("--delete", type=float, default=0.15, help="characters deleted per query")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    lines = held_out_lines(args.data_dir)
    rng = random.Random(args.seed)
    damaged = [delete_chars(line, args.delete, rng) for line in lines]
    alphabet = sorted({c for line in lines for c in line})
    top1, top5 = retrieval(bag_of_chars(lines, alphabet), bag_of_chars(damaged, alphabet))
    tags, share = speaker_agreement(bag_of_chars(lines, alphabet), lines)
    print(f"{len(lines)} held-out lines; queries lose {args.delete:.0%} of their characters\n")
    print("| encoder | retrieval top-1 | top-5 | speaker tag → speaker tag (share of lines) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| bag of characters | {top1:.1%} | {top5:.1%} | {tags:.1%} ({share:.1%}) |")
    for ckpt in args.checkpoints:
        module = load_module(str(ckpt))
        keys, queries = module.encode(lines), module.encode(damaged)
        top1, top5 = retrieval(keys, queries)
        tags, share = speaker_agreement(keys, lines)
        print(f"| {ckpt.parent.parent.name} | {top1:.1%} | {top5:.1%} | {tags:.1%} ({share:.1%}) |")
        sims = F.normalize(keys, dim=-1) @ F.normalize(keys, dim=-1).T
        for query in QUERIES:
            if query in lines:
                i = lines.index(query)
                sims[i, i] = -2
                near = [lines[j] for j in sims[i].topk(3).indices.tolist()]
                print(f"    {query!r} → " + " | ".join(repr(n) for n in near))


if __name__ == "__main__":
    main()
