"""Metrics whose states sync across processes (torchmetrics states with sum / min / max reductions).

- ``ExactMatch``: token ids equal up to end-of-sequence (0–1).
- ``GroupedAccuracy``: accuracy per group (e.g. bAbI task) and their mean (0–1).
- ``build_text_metrics``: BLEU, chrF (sacreBLEU), ROUGE-1/2/L (rouge-score's definition), QA token
  F1 and normalised exact match on decoded text, with several references per example.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so that `seqlab.metrics.names` is importable without torch.
_HOMES = {
    "TextMetric": "base",
    "GroupedAccuracy": "groups",
    "ExactMatch": "ids",
    "exact_match_rows": "ids",
    "default_bleu_tokenizer": "sacre",
    "resolve_bleu_tokenizer": "sacre",
    "TEXT_METRICS": "text",
    "build_text_metrics": "text",
    "metric_signatures": "text",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'seqlab.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"seqlab.metrics.{_HOMES[name]}"), name)


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
