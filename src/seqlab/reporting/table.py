"""The summary table: one row per run (overrides → status → best and final metrics → checkpoint).

Rows are plain dicts with the same keys in the same order for every run, so the same list feeds
summary.csv, summary.md and the HTML leaderboard. Rows are ranked by the optimized metric;
runs that did not finish ok come last whatever their partial score, then runs without one.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path
from typing import Any

from seqlab.reporting.collect import Run
from seqlab.reporting.metrics import metric_order

FIXED_HEAD = ("run", "status", "error")
FIXED_TAIL = (
    "steps",
    "epochs",
    "parameters",
    "wall_time_s",
    "tokens_per_s",
    "checkpoint",
    "overrides",
    "commit",
    "path",
)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def final_metrics(run: Run) -> dict[str, float]:
    """Last logged val/ and test/ values, with results.json's final numbers taking precedence."""
    finals = {k: s.last for k, s in run.series.items() if k.startswith(("val/", "test/"))}
    for key, value in (run.results.get("metrics") or {}).items():
        if _number(value) is not None:
            finals[key] = _number(value)
    return {k: v for k, v in finals.items() if v is not None}


def best_score(run: Run) -> tuple[float | None, float | None]:
    """(best value, its step) of the run's optimized metric over its whole history."""
    series = run.series.get(run.optimized_metric)
    best = series.best(run.mode) if series else None
    if best:
        return best
    recorded = run.results.get("best") or {}
    score = _number(recorded.get("score"))
    if recorded.get("monitor") == run.optimized_metric and score is not None:
        return score, None
    return final_metrics(run).get(run.optimized_metric), None


def checkpoint(run: Run) -> str:
    """The best checkpoint (else last), re-pointed into the run folder if the folder has moved."""
    best = (run.results.get("best") or {}).get("checkpoint") or run.results.get("last_checkpoint")
    if not best:
        return ""
    local = run.path / "checkpoints" / Path(best).name
    return str(local) if not Path(best).exists() and local.exists() else str(best)


def dominant(runs: list[Run]) -> tuple[str, str]:
    """The optimized metric and mode most runs share: the one the leaderboard ranks by."""
    return Counter((r.optimized_metric, r.mode) for r in runs).most_common(1)[0][0]


def summary_rows(runs: list[Run], swept: list[str]) -> list[dict[str, Any]]:
    """One dict per run, every dict with the same keys, ranked best first."""
    metric, mode = dominant(runs)
    finals = {r.path: final_metrics(r) for r in runs}
    metric_names = metric_order({k for f in finals.values() for k in f})
    swept_cols = {k: (f"override.{k}" if k in FIXED_HEAD + FIXED_TAIL else k) for k in swept}
    rows = []
    for run in runs:
        res = run.results
        best, best_step = best_score(run)
        row: dict[str, Any] = {
            "run": run.run_id,
            "status": run.status,
            "error": run.error,
            **{col: run.overrides.get(key, "") for key, col in swept_cols.items()},
            "optimized": run.optimized_metric,
            "mode": run.mode,
            "best": best,
            "best_step": best_step,
            **{name: finals[run.path].get(name) for name in metric_names},
            "steps": res.get("steps"),
            "epochs": res.get("epochs"),
            "parameters": (res.get("parameters") or {}).get("total"),
            "wall_time_s": res.get("wall_time_s"),
            "tokens_per_s": res.get("train_tokens_per_s"),
            "checkpoint": checkpoint(run),
            "overrides": " ".join(f"{k}={v}" for k, v in run.overrides.items()),
            "commit": (run.commit or "")[:12] + ("+dirty" if run.dirty else ""),
            "path": run.name,
        }
        rows.append(row)

    def rank(row: dict[str, Any]) -> tuple:
        score = row["best"]
        comparable = score is not None and (row["optimized"], row["mode"]) == (metric, mode)
        ordered = (score if mode == "min" else -score) if comparable else 0
        return (row["status"] != "ok", not comparable, ordered)

    return sorted(rows, key=rank)


def fmt(value: Any) -> str:
    """Short text for a cell: 4 significant decimals for floats, blank for missing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def write_markdown(path: Path, rows: list[dict[str, Any]], swept: list[str], title: str) -> None:
    """A human-readable summary.md: counts, the ranking metric, swept keys, then the table."""
    statuses = Counter(row["status"] for row in rows)
    metric, mode = rows[0]["optimized"], rows[0]["mode"]
    hidden = {"error", "optimized", "mode", "commit", "path", "epochs", "tokens_per_s"}
    cols = [c for c in rows[0] if c not in hidden]

    def cell(row: dict[str, Any], col: str) -> str:
        text = fmt(row[col])
        if col == "status" and row["error"]:
            text = f"{text}: {row['error']}"
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"# seqlab summary: {title}",
        "",
        f"- runs: {len(rows)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})",
        f"- ranked by: best `{metric}` ({mode})",
        f"- swept: {', '.join(f'`{k}`' for k in swept) if swept else 'nothing (runs share overrides)'}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + " --- |" * len(cols),
    ]
    lines += ["| " + " | ".join(cell(row, c) for c in cols) + " |" for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
