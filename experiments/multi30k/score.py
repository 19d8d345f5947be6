"""Multi30k BLEU two ways from a run's ``test_predictions.jsonl``: sacreBLEU (13a, the signature
seqlab records) and the classic PyTorch tutorials' "tokenized, lowercased BLEU" (corpus BLEU-4 on
lowercased word tokens, no smoothing: torchtext's ``bleu_score``). Tokens are split as seqlab's
word tokenizer splits them (runs of letters/digits, runs of punctuation); the tutorials used
spaCy, which differs on contractions ("man's": spaCy ``man 's``, here ``man ' s``).

    python experiments/multi30k/score.py RUN_OR_EVAL_FOLDER [...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sacrebleu
from tokenizers import pre_tokenizers

from seqlab.runs.predictions import FILENAME, read_predictions

WORDS = pre_tokenizers.Whitespace()  # seqlab's word tokenizer splits text with this


def tokenized(text: str) -> str:
    return " ".join(word for word, _ in WORDS.pre_tokenize_str(text.lower()))


def scores(folder: Path) -> dict[str, float]:
    rows = read_predictions(folder / FILENAME)
    hyps = [r["hypothesis"] for r in rows]
    refs = [r["references"][0] for r in rows]
    # 13a, as seqlab's test/bleu. force: word-level hypotheses end in " ." and sacreBLEU would
    # warn that they look tokenized; 13a splits the references' final periods the same way.
    sacre = sacrebleu.corpus_bleu(hyps, [refs], force=True)
    tok = sacrebleu.corpus_bleu(
        [tokenized(h) for h in hyps],
        [[tokenized(r) for r in refs]],
        tokenize="none",
        smooth_method="none",
        force=True,
    )
    return {"sentences": len(rows), "sacrebleu": sacre.score, "tokenized_lc_bleu": tok.score}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    print(
        "| run | sentences | sacreBLEU (13a) | tokenized lowercased BLEU |\n| --- | ---: | ---: | ---: |"
    )
    for folder in args.folders:
        s = scores(folder)
        print(
            f"| {folder.name} | {s['sentences']} | {s['sacrebleu']:.1f} | {s['tokenized_lc_bleu']:.1f} |"
        )


if __name__ == "__main__":
    main()
