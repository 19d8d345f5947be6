"""Read run folders back: what seqlab-train left behind, tolerant of runs that crashed midway.

A report must work on any folder a user points at, long after the runs ended, so every file is
optional except `run.json` (which is what makes a folder a run): a missing or unreadable file
leaves its fields empty instead of failing the whole report.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqlab.errors import SeqlabError
from seqlab.reporting.metrics import Series, read_metrics


@dataclass
class Run:
    """One run folder, parsed. `status` is ok, failed, or unknown (no results.json)."""

    path: Path
    name: str  # path relative to the report folder ("." when the folder is the run)
    run_id: str
    command: list[str]
    started: str
    overrides: dict[str, str]
    status: str
    error: str
    results: dict[str, Any]
    optimized_metric: str
    mode: str
    commit: str | None
    dirty: bool | None
    resumed: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, Series] = field(default_factory=dict)


def _json(path: Path) -> dict[str, Any]:
    """A JSON object, or {} when the file is missing or half-written (a crash mid-write)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _yaml(path: Path) -> dict[str, Any]:
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return value if isinstance(value, dict) else {}


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """`key=value` Hydra overrides as a dict; `+key`/`++key`/`~key` keep their prefix.

    A resume appends `# resumed <time>` and its own overrides to overrides.txt: comments are
    skipped and a later value of a key replaces the earlier one, giving the run's effective set.
    """
    out: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out[key] = value
    return out


def _natural(text: str) -> list:
    """Sort key that puts sweep job 10 after job 9, not after job 1."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def find_run_dirs(folder: Path) -> list[Path]:
    """Every folder under `folder` (itself included) holding run.json; runs are not searched inside.

    Symbolic links are followed, so a folder of links to runs from several sweeps makes one
    comparison; a folder reached twice (a link cycle, or two links to one run) is read once."""
    found, seen = [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        if "run.json" in files:
            found.append(Path(root))
            dirs[:] = []  # a run's checkpoints/ and logger folders hold no further runs
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "plots")
    return sorted(found, key=lambda p: _natural(str(p.relative_to(folder))))


def load_run(path: Path, folder: Path, metric: str | None = None, mode: str | None = None) -> Run:
    """Parse one run folder; `metric` / `mode` override what the run's own config says."""
    info = _json(path / "run.json")
    config = _yaml(path / "config.yaml")
    task = config.get("task") if isinstance(config.get("task"), dict) else {}
    results = _json(path / "results.json")
    git = _json(path / "git.json")
    try:
        lines = (path / "overrides.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    if results:
        status = str(results.get("status", "ok"))
        error = str(results.get("error") or "").splitlines()
        error = error[0] if error else ""
    else:
        status, error = "unknown", "no results.json"
    best = results.get("best") or {}
    return Run(
        path=path,
        name=str(path.relative_to(folder)),
        run_id=str(info.get("run_id") or path.name),
        command=[str(a) for a in info.get("command") or []],
        started=str(info.get("started") or ""),
        overrides=parse_overrides(lines),
        status=status,
        error=error,
        results=results,
        optimized_metric=metric
        or str(config.get("optimized_metric") or best.get("monitor") or "val/loss"),
        mode=mode or str(task.get("monitor_mode") or "min"),
        commit=git.get("commit"),
        dirty=git.get("dirty"),
        resumed=[r for r in info.get("resumed") or [] if isinstance(r, dict)],
        series=read_metrics(path / "metrics.csv"),
    )


def collect_runs(folder: Path, metric: str | None = None, mode: str | None = None) -> list[Run]:
    """All runs under `folder`, in natural path order; a one-line SeqlabError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SeqlabError(f"report folder {folder} does not exist or is not a folder")
    if mode not in (None, "min", "max"):
        raise SeqlabError(f"--mode {mode!r} is not valid; choose min or max")
    dirs = find_run_dirs(folder)
    if not dirs:
        raise SeqlabError(
            f"no run folders (folders holding run.json) under {folder}; "
            "point seqlab-report at a sweep or runs folder, e.g. outputs/sweeps/<name>/<stamp>"
        )
    return [load_run(d, folder, metric, mode) for d in dirs]


def _sweep_overrides(folder: Path) -> list:
    """The command-line overrides Hydra recorded for a multirun (`model=a,b` style), if any."""
    hydra = _yaml(folder / "multirun.yaml").get("hydra")
    overrides = hydra.get("overrides") if isinstance(hydra, dict) else None
    task = overrides.get("task") if isinstance(overrides, dict) else None
    return task if isinstance(task, list) else []


def swept_keys(runs: list[Run], folder: Path) -> list[str]:
    """Override keys whose value differs between runs, plus those a multirun.yaml declares swept.

    A key missing from a run counts as its default value (""), so `seqlab-train` runs with and
    without `model.dropout=...` still show dropout as a varying key.
    """
    keys: list[str] = []
    for run in runs:
        keys += [k for k in run.overrides if k not in keys]
    varying = {k for k in keys if len({r.overrides.get(k, "") for r in runs}) > 1}
    for line in _sweep_overrides(folder):
        key, _, value = str(line).partition("=")
        bare = re.sub(r"\[.*?\]|\{.*?\}|'[^']*'|\"[^\"]*\"", "", value)  # commas inside lists
        if "," in bare or re.match(r"(range|choice|interval|glob)\(", value):
            varying.add(key)
    return [k for k in keys if k in varying]


def last_samples(path: Path, rows: int = 3) -> list[dict[str, str]]:
    """The first `rows` sample generations of the last step in samples.csv ([] if absent)."""
    try:
        with (path / "samples.csv").open(newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    if not records:
        return []
    last = records[-1].get("step")
    return [r for r in records if r.get("step") == last][:rows]
