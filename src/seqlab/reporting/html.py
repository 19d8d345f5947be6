"""report.html: one self-contained page (inline CSS/JS, plots as base64 PNG) that opens from disk.

Everything user-supplied (overrides, error messages, generated text) is HTML-escaped, and the
page references no external URL, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import shlex
from html import escape
from pathlib import Path
from typing import Any

from seqlab.reporting.assets import CSS, JS
from seqlab.reporting.collect import Run
from seqlab.reporting.plots import Plot
from seqlab.reporting.table import fmt

# Columns the leaderboard leaves to the provenance section (or folds into the status cell).
HIDDEN = ("error", "optimized", "mode", "overrides", "commit", "path")


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
    head = "<th>#</th>" + "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = []
    for i, row in enumerate(rows, 1):
        cls = "best" if i == 1 and row["status"] == "ok" else escape(row["status"])
        cells = f'<td class="num" data-v="{i}">{i}</td>' + "".join(_cell(row, c) for c in cols)
        body.append(f'<tr class="{cls}">{cells}</tr>')
    return (
        '<div class="scroll"><table id="leaderboard" class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def figures(plots: list[Plot], empty: str) -> str:
    if not plots:
        return f'<p class="meta">{escape(empty)}</p>'
    out = []
    for plot in plots:
        data = base64.b64encode(plot.path.read_bytes()).decode("ascii")
        out.append(
            f'<figure class="plot {plot.kind}"><img alt="{escape(plot.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{escape(plot.title)} '
            f"(plots/{escape(plot.path.name)})</figcaption></figure>"
        )
    return f'<div class="plots">{"".join(out)}</div>'


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


def render(
    title: str,
    rows: list[dict[str, Any]],
    swept: list[str],
    runs: list[Run],
    labels: dict[Path, str],
    plots: list[Plot],
    sample_rows: dict[Path, list[dict]],
) -> str:
    """The whole page as one string."""
    metric, mode = rows[0]["optimized"], rows[0]["mode"]
    ok = sum(row["status"] == "ok" for row in rows)
    swept_text = ", ".join(f"<code>{escape(k)}</code>" for k in swept) or "nothing"
    curves = [p for p in plots if p.kind == "curve"]
    sweeps = [p for p in plots if p.kind == "sweep"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seqlab report: {escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>seqlab report: {escape(title)}</h1>
<p class="meta">{len(rows)} runs, {ok} ok, {len(rows) - ok} failed or unfinished;
ranked by best <code>{escape(metric)}</code> ({escape(mode)}); swept: {swept_text}.
Rebuild with <code>seqlab-report {escape(title)}</code>.</p>
<h2 id="leaderboard-title">Leaderboard</h2>
<p class="meta">Click a column header to sort.</p>
{leaderboard(rows)}
<h2>Swept parameters vs best {escape(metric)}</h2>
{figures(sweeps, "No swept parameters (or no run with a score).")}
<h2>Learning curves</h2>
{figures(curves, "No metric was logged more than once.")}
<h2>Sample generations (last validation)</h2>
{samples(runs, labels, sample_rows)}
<h2>Provenance</h2>
{provenance(runs, labels, rows)}
<script>{JS}</script>
</body></html>
"""
