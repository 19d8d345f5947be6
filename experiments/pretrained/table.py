"""The study's table from run folders: one row per seqlab-train run (or seqlab-eval folder).

Each row reads the folder's results.json (and config.yaml for the model and seed); `--curve`
prints validation exact match at every validation of each run instead (from metrics.csv):

    python experiments/pretrained/table.py [--curve] <run folder> [<run folder> ...]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml


def row(folder: Path) -> str:
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    metrics = results["metrics"]
    config_path = folder / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    model = config.get("model", {})
    start = model.get("pretrained") or ("from scratch" if model.get("config") else "?")
    if start not in ("from scratch", "?"):
        start = "pre-trained"
    decoding = (results.get("decoding") or config.get("decoding") or {}).get("strategy", "")
    best = results.get("best", {})
    cells = [
        folder.name,
        start if config else "(seqlab-eval)",
        str(config.get("seed", "")),
        decoding,
        str(results.get("steps", "")),
        f"{100 * best['score']:.1f}" if best.get("score") is not None else "",
        f"{100 * metrics.get('test/exact_match', float('nan')):.1f}",
        f"{metrics.get('test/qa_f1', float('nan')):.1f}",  # already in percent
        f"{metrics.get('test/loss', float('nan')):.3f}",
        f"{results['wall_time_s']:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def curve(folder: Path) -> str:
    with (folder / "metrics.csv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/exact_match")]
    points = [f"{int(r['step']) + 1}: {100 * float(r['val/exact_match']):.0f}" for r in rows]
    return f"| {folder.name} | " + ", ".join(points) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run folders with results.json")
    parser.add_argument("--curve", action="store_true", help="validation exact match by step")
    args = parser.parse_args()
    if args.curve:
        print("| run | step: validation exact match (%) |\n| --- | --- |")
        for folder in args.folders:
            print(curve(folder))
        return
    print("| run | start | seed | decoding | steps | best val EM | test EM | test F1 | test loss "
          "| wall s |")  # fmt: skip
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for folder in args.folders:
        print(row(folder))


if __name__ == "__main__":
    main()
