"""Metrics whose states sync across processes (torchmetrics states with sum / min / max reductions).

- ``ExactMatch``: token ids equal up to end-of-sequence (0–1).
- ``GroupedAccuracy``: accuracy per group (e.g. bAbI task) and their mean (0–1).
- ``build_text_metrics``: BLEU, chrF (sacreBLEU), ROUGE-1/2/L (rouge-score's definition), QA token
  F1 and normalised exact match on decoded text, with several references per example.
"""

from seqlab.metrics.base import TextMetric
from seqlab.metrics.groups import GroupedAccuracy
from seqlab.metrics.ids import ExactMatch, exact_match_rows
from seqlab.metrics.sacre import default_bleu_tokenizer, resolve_bleu_tokenizer
from seqlab.metrics.text import TEXT_METRICS, build_text_metrics, metric_signatures

__all__ = [
    "TEXT_METRICS",
    "ExactMatch",
    "GroupedAccuracy",
    "TextMetric",
    "build_text_metrics",
    "default_bleu_tokenizer",
    "exact_match_rows",
    "metric_signatures",
    "resolve_bleu_tokenizer",
]
