"""Every test decode on disk, so scores can be recomputed or compared later without re-decoding
(another BLEU tokenization, a significance test, error analysis): ``test_predictions.jsonl`` in
the run folder, one example per line in dataset order."""

from __future__ import annotations

import json
from pathlib import Path

import torch.distributed as dist

FILENAME = "test_predictions.jsonl"


def gather_rows(rows: list[dict]) -> list[dict]:
    """All ranks' rows on every rank (each rank decodes its own share of the test set)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return rows
    parts: list[list[dict] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, rows)
    return [row for part in parts for row in part or []]


def write_predictions(rows: list[dict], folder: str | Path) -> Path:
    """Write rows (each with an ``index``) sorted by index, one JSON object per line; an example
    decoded twice (a distributed sampler pads the last batch by repeating examples) is kept once."""
    unique = {row["index"]: row for row in rows}
    path = Path(folder) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for index in sorted(unique):
            f.write(json.dumps(unique[index], ensure_ascii=False) + "\n")
    return path


def read_predictions(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
