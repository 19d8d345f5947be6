"""The JSON the interactive report draws from: every run's curves, swept values and score.

Long curves are thinned to at most MAX_POINTS evenly spaced points (first and last kept) and
values are rounded to 5 significant digits (the hover shows 4), which keeps a large sweep's page to a few MB; the
full series stay in each run's metrics.csv.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seqlab.reporting.collect import Run
from seqlab.reporting.metrics import Series, metric_order

MAX_POINTS = 400
# matplotlib's tab10, so a run has the same color in the page and in plots/*.png.
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


def _round(x: float) -> float | int:
    value = float(f"{x:.5g}")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def thin(series: Series, limit: int = MAX_POINTS) -> dict[str, list]:
    """At most `limit` points of a series, evenly spaced over its length, first and last kept."""
    n = len(series.values)
    keep = (
        range(n) if n <= limit else sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    )
    return {
        "x": [_round(series.steps[i]) for i in keep],
        "y": [_round(series.values[i]) for i in keep],
    }


def _numeric(values: list[str]) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)
    except ValueError:
        return False


def page_data(
    title: str,
    runs: list[Run],
    labels: dict[Path, str],
    scores: dict[Path, float],
    swept: list[str],
    metric: str,
    mode: str,
    refresh_s: float | None = None,
) -> dict[str, Any]:
    """Everything the page's script needs; `refresh_s` makes the page reload itself (--watch)."""
    names = metric_order({k for r in runs for k, s in r.series.items() if s.values})
    default = metric if metric in names else next((n for n in names if n.startswith("val/")), None)
    numeric, logx = {}, {}
    for key in swept:
        values = [r.overrides.get(key, "") for r in runs if scores.get(r.path) is not None]
        numeric[key] = bool(values) and _numeric(values)
        numbers = [float(v) for v in values] if numeric[key] else []
        logx[key] = bool(numbers) and min(numbers) > 0 and max(numbers) / min(numbers) >= 10
    return {
        "title": title,
        "metric": metric,
        "mode": mode,
        "swept": swept,
        "numeric": numeric,
        "logx": logx,
        "metrics": names,
        "default_metric": default or (names[0] if names else ""),
        "palette": PALETTE,
        "refresh_s": refresh_s,
        "runs": [
            {
                "id": run.name,
                "label": labels[run.path],
                "status": run.status,
                "color": PALETTE[i % len(PALETTE)],
                "params": {k: run.overrides.get(k, "") for k in swept},
                "score": None if scores.get(run.path) is None else _round(scores[run.path]),
                "series": {k: thin(s) for k, s in run.series.items() if s.values},
            }
            for i, run in enumerate(runs)
        ],
    }


def embed_json(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' can close it or open a comment."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
