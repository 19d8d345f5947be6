"""Decode metrics by the names task configs list, the keys they log, and which key picks checkpoints.

Imports nothing heavy: config validation and the config resolvers read these before torch loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# metric name (task.metrics) → the keys it logs as val/<key> and test/<key>
LOGGED_KEYS: dict[str, tuple[str, ...]] = {
    "exact_match": ("exact_match",),
    "bleu": ("bleu",),
    "chrf": ("chrf",),
    "rouge": ("rouge1", "rouge2", "rougeL"),
    "qa_f1": ("qa_f1",),
    "exact_match_text": ("exact_match_text",),
}
TASK_METRICS = tuple(LOGGED_KEYS)
LOWER_IS_BETTER = ("loss", "ppl")


def logged_keys(metrics: Sequence[str]) -> list[str]:
    """The keys a task with these decode metrics logs, besides loss, ppl and token_acc."""
    return [key for name in metrics for key in LOGGED_KEYS.get(name, ())]


def default_monitor(task: Mapping, data: Mapping) -> str:
    """The key that picks the best checkpoint when ``task.monitor`` is left to the task.

    Where validation decodes, the dataset's own score (``data.primary_metric``: exact match for
    SCAN, accuracy for bAbI) or else the task's (``task.primary_metric``: BLEU for translation,
    ROUGE-L for summarization, F1 for QA), provided the task logs it; otherwise ``val/loss``.
    """
    limit = task.get("val_generate_limit")
    if task.get("kind") == "lm" or (limit is not None and limit <= 0):
        return "val/loss"
    logged = logged_keys(task.get("metrics") or ())
    for key in (data.get("primary_metric"), task.get("primary_metric")):
        if key and key in logged:
            return f"val/{key}"
    return "val/loss"


def monitor_mode(monitor: str) -> str:
    """``min`` for losses and perplexities, ``max`` for every decode metric."""
    return "min" if monitor.rsplit("/", 1)[-1] in LOWER_IS_BETTER else "max"
