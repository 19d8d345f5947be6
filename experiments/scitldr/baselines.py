"""SciTLDR-A extractive baselines scored exactly as seqlab scores its models (ROUGE-1/2/L F1,
Porter stemming, max over a paper's TL;DRs, mean over papers), so the models' rows and the
paper's rows can be read against the same yardstick.

- Lead-1: the abstract's first sentence.
- Oracle: the one sentence of the abstract with the highest ROUGE-1 + ROUGE-2 + ROUGE-L against
  the paper's TL;DRs (an upper bound for single-sentence extraction).

    python experiments/scitldr/baselines.py [--data-dir DIR] [--split test]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from seqlab.data.scitldr import read_scitldr_records
from seqlab.metrics.rouge import rouge_f

HERE = Path(__file__).resolve().parent


def read_split(data_dir: Path, split: str) -> list[tuple[list[str], list[str]]]:
    """(sentences, TL;DRs) of ``summarization/scitldr-a/<split>.jsonl``, checked by seqlab's reader."""
    return read_scitldr_records(data_dir / "summarization" / "scitldr-a" / f"{split}.jsonl")


def mean_rouge(picks: list[str], refs: list[list[str]]) -> tuple[float, float, float]:
    scores = [rouge_f(hyp, ref, True) for hyp, ref in zip(picks, refs, strict=True)]
    return tuple(100 * sum(s[k] for s in scores) / len(scores) for k in range(3))


def oracle_sentence(sentences: list[str], refs: list[str]) -> str:
    return max(sentences, key=lambda s: sum(rouge_f(s, refs, True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get(
        "SEQLAB_DATA_DIR", HERE.parents[2] / "shared" / "data")))  # fmt: skip
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    args = parser.parse_args()
    records = read_split(args.data_dir, args.split)
    refs = [tldrs for _, tldrs in records]
    rows = {
        "Lead-1": [sentences[0] for sentences, _ in records],
        "Oracle (best sentence)": [oracle_sentence(s, t) for s, t in records],
    }
    print(f"SciTLDR-A {args.split}: {len(records)} papers, {sum(map(len, refs))} TL;DRs")
    print("| baseline | ROUGE-1 | ROUGE-2 | ROUGE-L |\n| --- | ---: | ---: | ---: |")
    for name, picks in rows.items():
        r1, r2, rl = mean_rouge(picks, refs)
        print(f"| {name} | {r1:.1f} | {r2:.1f} | {rl:.1f} |")


if __name__ == "__main__":
    main()
