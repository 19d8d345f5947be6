"""Rebuild a folder's summary (summary.csv, summary.md) and report (report.html, plots/*.png).

Everything is derived from the run folders alone, so both can be rebuilt at any time and
rebuilding overwrites the previous output (plots/ is emptied of PNGs first, so plots of
metrics or keys that no longer exist do not linger).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from seqlab.reporting.collect import Run, collect_runs, last_samples, swept_keys
from seqlab.reporting.table import (
    best_score,
    dominant,
    summary_rows,
    write_csv,
    write_markdown,
)

SAMPLE_ROWS = 3  # sample generations shown per run


def _title(folder: Path) -> str:
    try:
        return str(folder.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(folder)


def _summarize(
    folder: Path, metric: str | None, mode: str | None
) -> tuple[list[Run], list[str], list[dict[str, Any]]]:
    runs = collect_runs(folder, metric, mode)
    swept = swept_keys(runs, folder)
    rows = summary_rows(runs, swept)
    write_csv(folder / "summary.csv", rows)
    write_markdown(folder / "summary.md", rows, swept, _title(folder))
    return runs, swept, rows


def write_summary(
    folder: Path, optimized_metric: str | None = None, mode: str | None = None
) -> list[dict[str, Any]]:
    """Write summary.csv and summary.md in `folder`; returns the rows (best run first).

    Called by seqlab-report, and by training code when a multirun ends. `optimized_metric` and
    `mode` (min | max) override what each run's config.yaml says.
    """
    return _summarize(Path(folder), optimized_metric, mode)[2]


def _label(run: Run, swept: list[str]) -> str:
    """How a run is named in legends: its swept values, else its folder."""
    text = " ".join(f"{k}={run.overrides.get(k, '')}" for k in swept) or run.name
    return text if run.status == "ok" else f"{text} ({run.status})"


def build_report(
    folder: Path,
    optimized_metric: str | None = None,
    mode: str | None = None,
    refresh_s: float | None = None,
) -> Path:
    """Write the summary files, plots/*.png and a self-contained report.html; returns its path.

    `refresh_s` makes the page reload itself that often (seqlab-report --watch)."""
    # matplotlib is imported only here: write_summary runs at the end of every sweep.
    from seqlab.reporting.html import render
    from seqlab.reporting.page_data import embed_json, page_data
    from seqlab.reporting.plots import learning_curves, sweep_plots

    folder = Path(folder)
    runs, swept, rows = _summarize(folder, optimized_metric, mode)
    out = folder / "plots"
    out.mkdir(exist_ok=True)
    for stale in out.glob("*.png"):
        stale.unlink()
    labels = {run.path: _label(run, swept) for run in runs}
    metric, ranked_mode = dominant(runs)
    # Only finished runs: a crashed run's partial best would pass for a result of its settings.
    scores = {
        r.path: best_score(r)[0]
        for r in runs
        if r.status == "ok" and (r.optimized_metric, r.mode) == (metric, ranked_mode)
    }
    plots = sweep_plots(runs, scores, swept, metric, ranked_mode, out)
    plots += learning_curves(runs, labels, out)
    samples = {run.path: last_samples(run.path, SAMPLE_ROWS) for run in runs}
    title = _title(folder)
    data = page_data(title, runs, labels, scores, swept, metric, ranked_mode, refresh_s)
    page = render(title, rows, swept, runs, labels, plots, samples, embed_json(data), refresh_s)
    path = folder / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)  # a browser reloading mid-rebuild never sees half a page
    return path
