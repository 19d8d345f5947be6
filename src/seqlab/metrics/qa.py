"""Extractive-QA scores as the SQuAD evaluation script defines them: answers are normalised
(lowercase, no ASCII punctuation, no articles a/an/the, single spaces), token F1 and exact match are
taken against each gold answer, and the best one counts.

Two empty answers (after normalisation) match with F1 = 1, as in the SQuAD 2.0 script.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import torch
from torch import Tensor

from seqlab.metrics.base import NANO, TextMetric, check_pairs

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation, drop articles, collapse whitespace."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(hyp: str, ref: str) -> float:
    """Bag-of-tokens F1 in [0, 1] between two normalised answers."""
    h, r = normalize_answer(hyp).split(), normalize_answer(ref).split()
    if not h or not r:
        return float(h == r)
    same = sum((Counter(h) & Counter(r)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(h), same / len(r)
    return 2 * precision * recall / (precision + recall)


class QAF1(TextMetric):
    """Mean over examples of the best token F1 against the gold answers, 0–100: ``{"qa_f1"}``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("f1_nano", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
        check_pairs(hyps, refs)
        best = (max(token_f1(h, r) for r in rs) for h, rs in zip(hyps, refs, strict=True))
        self.f1_nano += sum(round(f * NANO) for f in best)
        self.total += len(hyps)

    def compute(self) -> dict[str, Tensor]:
        value = 100 * int(self.f1_nano) / NANO / max(int(self.total), 1)
        return {"qa_f1": torch.tensor(value, device=self.f1_nano.device)}


class TextExactMatch(TextMetric):
    """Share of examples whose normalised answer equals a normalised reference, 0–1:
    ``{"exact_match_text"}`` (same scale as ``ExactMatch`` on token ids)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
        check_pairs(hyps, refs)
        self.correct += sum(
            any(normalize_answer(h) == normalize_answer(r) for r in rs)
            for h, rs in zip(hyps, refs, strict=True)
        )
        self.total += len(hyps)

    def compute(self) -> dict[str, Tensor]:
        value = int(self.correct) / max(int(self.total), 1)
        return {"exact_match_text": torch.tensor(value, device=self.correct.device)}
