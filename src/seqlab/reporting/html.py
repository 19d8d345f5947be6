"""report.html: one self-contained page (inline CSS, script, data and Plotly) that opens from disk.

Everything user-supplied (overrides, error messages, generated text) is HTML-escaped, the data is
JSON that cannot close its script element, and the page references no external URL, so it can be
mailed, archived or opened offline. The PNGs in plots/ are linked, not embedded (for papers).
"""

from __future__ import annotations

import shlex
from html import escape
from pathlib import Path
from typing import Any

from seqlab.reporting.assets import css, plotly_packed, script
from seqlab.reporting.collect import Run
from seqlab.reporting.plots import Plot
from seqlab.reporting.table import fmt

# Columns shown only when chosen: the last validation values (the best one is in "best").
FOLDED = ("val/",)
# Columns the leaderboard leaves to the provenance section (or folds into the status cell).
HIDDEN = ("error", "optimized", "mode", "overrides", "commit", "path", "checkpoint")


def _cell(row: dict[str, Any], col: str) -> str:
    value = row[col]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num" data-v="{value!r}">{escape(fmt(value))}</td>'
    text = escape(fmt(value))
    if col == "status" and row["error"]:
        text += f'<br><span class="error">{escape(row["error"])}</span>'
    return f"<td>{text}</td>"


def leaderboard(rows: list[dict[str, Any]]) -> str:
    """The sortable table: rank, then every summary column except the provenance ones."""
    cols = [c for c in rows[0] if c not in HIDDEN]
    # Break opportunities after "/" and "_" let long names wrap, so the table fits the page.
    head = "<th>#</th>" + "".join(
        f"<th{' data-hide' if c.startswith(FOLDED) else ''}>"
        f"{escape(c).replace('/', '/<wbr>').replace('_', '_<wbr>')}</th>"
        for c in cols
    )
    body = []
    for i, row in enumerate(rows, 1):
        cls = "best" if i == 1 and row["status"] == "ok" else escape(row["status"])
        cells = f'<td class="num" data-v="{i}">{i}</td>' + "".join(_cell(row, c) for c in cols)
        body.append(f'<tr class="{cls}" data-run="{escape(row["path"])}">{cells}</tr>')
    return (
        '<div class="scroll"><table id="leaderboard" class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def png_links(plots: list[Plot]) -> str:
    if not plots:
        return ""
    links = ", ".join(
        f'<a href="plots/{escape(p.path.name)}">{escape(p.path.name)}</a>' for p in plots
    )
    return f'<p class="meta">The same plots as PNG, for papers: {links}.</p>'


def samples(runs: list[Run], labels: dict[Path, str], rows: dict[Path, list[dict]]) -> str:
    """The last validation's sample generations, a few per run."""
    parts = []
    for run in runs:
        got = rows.get(run.path) or []
        if not got:
            continue
        step = escape(str(got[0].get("step", "")))
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(str(r.get(c) or ''))}</td>"
                for c in ("source", "reference", "hypothesis")
            )
            + "</tr>"
            for r in got
        )
        parts.append(
            f"<h3>{escape(labels[run.path])} <span class=meta>(step {step})</span></h3>"
            "<table class=samples><thead><tr><th>source</th><th>reference</th>"
            f"<th>hypothesis</th></tr></thead><tbody>{body}</tbody></table>"
        )
    return "".join(parts) or '<p class="meta">No run logged samples.csv.</p>'


def provenance(runs: list[Run], labels: dict[Path, str], rows: list[dict[str, Any]]) -> str:
    """Per run, in a collapsed block: how to reproduce it and where its files are."""
    by_path = {row["path"]: row for row in rows}
    parts = []
    for run in runs:
        row = by_path[run.name]
        trace = run.path / "error.txt"  # a failed sweep job's full traceback
        commit = f"{run.commit or 'unknown'}{' (dirty: see git.diff)' if run.dirty else ''}"
        items = [
            ("run id", run.run_id),
            ("folder", str(run.path)),
            ("started", run.started),
            ("status", f"{run.status}{': ' + run.error if run.error else ''}"),
            ("git commit", commit),
            ("checkpoint", row["checkpoint"]),
            ("traceback", str(trace) if trace.exists() else ""),
        ]
        dl = "".join(f"<dt>{k}</dt><dd><code>{escape(v)}</code></dd>" for k, v in items if v)
        resumed = "".join(
            f"<p>resumed {escape(str(r.get('at', '')))}</p>"
            f"<pre>{escape(shlex.join(str(a) for a in r.get('command') or []))}</pre>"
            for r in run.resumed
        )
        label = labels[run.path]
        head = label if label.startswith(run.name) else f"{run.name}: {label}"
        overrides = "\n".join(f"{k}={v}" for k, v in run.overrides.items()) or "(none)"
        parts.append(
            f"<details><summary>{escape(head)}</summary>"
            f"<dl>{dl}</dl>"
            f"<p>command</p><pre>{escape(shlex.join(run.command))}</pre>"
            f"<p>overrides</p><pre>{escape(overrides)}</pre>{resumed}</details>"
        )
    return "".join(parts)


CURVE_CONTROLS = """<div class="controls">
<label>metric <select id="curve-metric"></select></label>
<label>group by <select id="curve-group"><option value="">each run</option></select></label>
<label>smoothing <input id="curve-smooth" type="range" min="0" max="0.99" step="0.01" value="0">
<span id="curve-smooth-value">0.00</span></label>
<label><input id="curve-logy" type="checkbox"> log scale</label>
<span>runs: <button id="runs-all" type="button">all</button>
<button id="runs-none" type="button">none</button></span>
</div>
<div id="run-picker"></div>"""


def render(
    title: str,
    rows: list[dict[str, Any]],
    swept: list[str],
    runs: list[Run],
    labels: dict[Path, str],
    plots: list[Plot],
    sample_rows: dict[Path, list[dict]],
    data_json: str,
    refresh_s: float | None = None,
) -> str:
    """The whole page as one string; `refresh_s` adds the --watch banner (the data makes it reload)."""
    metric, mode = rows[0]["optimized"], rows[0]["mode"]
    ok = sum(row["status"] == "ok" for row in rows)
    swept_text = ", ".join(f"<code>{escape(k)}</code>" for k in swept) or "nothing"
    curves = [p for p in plots if p.kind == "curve"]
    sweeps = [p for p in plots if p.kind == "sweep"]
    live = (
        f'<p class="live">Live: rebuilt while <code>seqlab-report --watch</code> runs; this page '
        f"reloads every {refresh_s:g} s and keeps your plot choices.</p>"
        if refresh_s
        else ""
    )
    sweep = (
        '<div id="sweep-parcoords"></div><div id="sweep-keys"></div>'
        if swept
        else '<p class="meta">No swept parameters.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seqlab report: {escape(title)}</title><style>{css()}</style></head>
<body>
<h1>seqlab report: {escape(title)}</h1>
{live}
<p class="meta">{len(rows)} runs, {ok} ok, {len(rows) - ok} failed or unfinished;
ranked by best <code>{escape(metric)}</code> ({escape(mode)}); swept: {swept_text}.
Rebuild with <code>seqlab-report {escape(title)}</code>.</p>
<p class="plot-error" hidden></p>
<h2 id="leaderboard-title">Leaderboard</h2>
<div class="controls"><input id="leaderboard-filter" type="search"
placeholder="filter runs: words that must all appear in a row"> <span id="leaderboard-count"
class="meta"></span><span class="meta">Click a header to sort, a row to show or hide the run
in the learning curves.</span></div>
<details id="leaderboard-columns"><summary>columns</summary><div></div></details>
{leaderboard(rows)}
<h2>Swept parameters vs best {escape(metric)}</h2>
<p class="meta">Drag along an axis of the parallel coordinates to select a range; hover a point
for its run.</p>
{sweep}
{png_links(sweeps)}
<h2>Learning curves</h2>
{CURVE_CONTROLS}
<p id="curves-empty" class="meta" hidden>No selected run logged this metric.</p>
<div id="curves-plot"></div>
{png_links(curves)}
<h2>Sample generations (last validation)</h2>
{samples(runs, labels, sample_rows)}
<h2>Provenance</h2>
{provenance(runs, labels, rows)}
<script type="application/json" id="report-data">{data_json}</script>
<script type="text/plain" id="plotly-gz">{plotly_packed()}</script>
<script>{script()}</script>
</body></html>
"""
