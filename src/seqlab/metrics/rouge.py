"""ROUGE-1/2/L F-measure as the ``rouge-score`` package computes it: lowercase ASCII letters and
digits only, Porter stemming of words longer than 3 characters, and for several references the best
score per example and ROUGE type (as SciTLDR reports it). The corpus score is the mean over examples.

Note: text without ASCII letters or digits (e.g. Chinese) has no ROUGE tokens and scores 0, as in
``rouge-score``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from seqlab.metrics.base import NANO, TextMetric, check_pairs

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@functools.cache
def _stemmer() -> Callable[[str], str]:
    """NLTK's Porter stemmer (the one rouge-score uses), memoised: stemming dominates ROUGE's cost
    and a corpus repeats its words. Imported on first use: importing nltk takes about a second."""
    from nltk.stem.porter import PorterStemmer

    return functools.lru_cache(maxsize=1 << 17)(PorterStemmer().stem)


def rouge_tokens(text: str, stem: bool = True) -> list[str]:
    """The tokens ROUGE compares: lowercase, split on anything but [a-z0-9], optionally stemmed."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    if stem:
        stem_fn = _stemmer()
        tokens = [stem_fn(t) if len(t) > 3 else t for t in tokens]
    return tokens


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (two-row dynamic programme)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _f1(hits: int, n_hyp: int, n_ref: int) -> float:
    precision, recall = hits / max(n_hyp, 1), hits / max(n_ref, 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def rouge_f(hyp: str, refs: Sequence[str], stem: bool = True) -> tuple[float, float, float]:
    """(ROUGE-1, ROUGE-2, ROUGE-L) F-measures in [0, 1] of one hypothesis, each the best over refs."""
    h = rouge_tokens(hyp, stem)
    h1, h2 = _ngrams(h, 1), _ngrams(h, 2)
    best = [0.0, 0.0, 0.0]
    for ref in refs:
        r = rouge_tokens(ref, stem)
        r1, r2 = _ngrams(r, 1), _ngrams(r, 2)
        scores = (
            _f1(sum((h1 & r1).values()), len(h), len(r)),
            _f1(sum((h2 & r2).values()), max(len(h) - 1, 0), max(len(r) - 1, 0)),
            _f1(_lcs(h, r), len(h), len(r)) if h and r else 0.0,
        )
        best = [max(b, s) for b, s in zip(best, scores, strict=True)]
    return best[0], best[1], best[2]


class Rouge(TextMetric):
    """Mean ROUGE-1/2/L F-measure over examples, 0–100: ``{"rouge1", "rouge2", "rougeL"}``.

    Args:
        stem: Porter-stem words longer than 3 characters (rouge-score's ``use_stemmer=True``).
    """

    def __init__(self, stem: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.stem = stem
        if stem:
            _stemmer()  # fail now, not mid-validation, if nltk is missing
        zeros = torch.zeros(len(ROUGE_KEYS), dtype=torch.long)
        self.add_state("f_nano", default=zeros, dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
        check_pairs(hyps, refs)
        sums = [0, 0, 0]
        for hyp, ref_list in zip(hyps, refs, strict=True):
            for k, f in enumerate(rouge_f(hyp, ref_list, self.stem)):
                sums[k] += round(f * NANO)
        self.f_nano += torch.tensor(sums, device=self.f_nano.device)
        self.total += len(hyps)

    def compute(self) -> dict[str, Tensor]:
        n = max(int(self.total), 1)
        return {
            key: torch.tensor(100 * s / NANO / n, device=self.f_nano.device)
            for key, s in zip(ROUGE_KEYS, self.f_nano.tolist(), strict=True)
        }
