"""PNG plots for the report: learning curves per metric, and each swept parameter vs the score.

Figures are drawn with matplotlib's object API on an explicit Agg canvas (never pyplot), so the
report needs no display, leaves pyplot's global state alone, and is safe inside other programs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqlab.reporting.collect import Run
from seqlab.reporting.metrics import metric_order

MAX_LEGEND = 20  # beyond this many runs a legend hides the plot; the table names the runs


@dataclass
class Plot:
    """A written PNG and what it shows; `kind` is curve or sweep."""

    path: Path
    title: str
    kind: str


def _file_name(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9.-]+', '_', name).strip('_')}.png"


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def learning_curves(runs: list[Run], labels: dict[Path, str], out: Path) -> list[Plot]:
    """One PNG per logged metric, every run a line; metrics with one point per run are skipped."""
    names = {k for r in runs for k, s in r.series.items() if len(s.values) > 1}
    colors = dict(zip([r.path for r in runs], _colors(len(runs)), strict=True))
    plots = []
    for name in metric_order(names):
        fig = Figure(figsize=(6.4, 3.8))
        ax = fig.add_subplot()
        for run in runs:
            series = run.series.get(name)
            if series and series.values:
                style = "-" if len(series.values) > 1 else "o"
                ax.plot(
                    series.steps,
                    series.values,
                    style,
                    color=colors[run.path],
                    lw=1.4,
                    label=labels[run.path],
                )
        ax.set(title=name, xlabel="step", ylabel=name)
        ax.grid(alpha=0.3)
        if len(runs) <= MAX_LEGEND:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        path = out / _file_name("curve", name)
        _save(fig, path)
        plots.append(Plot(path, f"learning curve: {name}", "curve"))
    return plots


def _numeric(values: list[str]) -> list[float] | None:
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return None
    return numbers if all(math.isfinite(x) for x in numbers) else None


def sweep_plots(
    runs: list[Run], scores: dict[Path, float], swept: list[str], metric: str, mode: str, out: Path
) -> list[Plot]:
    """One PNG per swept key: its value (x) against each scored run's best `metric` (y)."""
    plots = []
    scored = [r for r in runs if scores.get(r.path) is not None]
    for key in swept:
        if not scored:
            break
        values = [r.overrides.get(key, "") for r in scored]
        if len(set(values)) < 2:
            continue  # every scored run shares this value: nothing to compare
        ys = [scores[r.path] for r in scored]
        numbers = _numeric(values)
        fig = Figure(figsize=(5.2, 3.6))
        ax = fig.add_subplot()
        if numbers is not None:
            ax.scatter(numbers, ys, color="#1f77b4", zorder=3)
            positive = min(numbers) > 0
            if positive and max(numbers) / min(numbers) >= 10:
                ax.set_xscale("log")
        else:
            order = sorted(set(values), key=lambda v: (v == "", v))
            xs = [order.index(v) for v in values]
            ax.scatter(xs, ys, color="#1f77b4", zorder=3)
            ax.set_xticks(range(len(order)), [v or "(default)" for v in order], rotation=20)
            ax.set_xlim(-0.5, len(order) - 0.5)
        best = (min if mode == "min" else max)(range(len(ys)), key=ys.__getitem__)
        x_best = numbers[best] if numbers is not None else order.index(values[best])
        ax.scatter(
            [x_best],
            [ys[best]],
            s=140,
            facecolors="none",
            edgecolors="#d62728",
            zorder=4,
            label=f"best ({mode})",
        )
        ax.set(title=f"{key} vs best {metric}", xlabel=key, ylabel=f"best {metric}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
        path = out / _file_name("sweep", key)
        _save(fig, path)
        plots.append(Plot(path, f"{key} vs best {metric}", "sweep"))
    return plots
