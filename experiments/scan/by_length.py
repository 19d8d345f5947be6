"""SCAN exact match by the length of the reference action sequence (Lake & Baroni 2018 plot it
for the length split), read from runs' ``test_predictions.jsonl``.

    python experiments/scan/by_length.py FOLDER [FOLDER ...]   # run or seqlab-eval folders
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from seqlab.runs.predictions import FILENAME, read_predictions


def by_length(rows: list[dict]) -> dict[int, tuple[int, int]]:
    """Reference length in actions -> (correct, total)."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        ref = row["references"][0].split()
        counts[len(ref)][0] += row["hypothesis"].split() == ref
        counts[len(ref)][1] += 1
    return {n: (c, t) for n, (c, t) in sorted(counts.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    tables = {folder: by_length(read_predictions(folder / FILENAME)) for folder in args.folders}
    lengths = sorted({n for table in tables.values() for n in table})
    print("| actions | examples | " + " | ".join(f.name for f in tables) + " |")
    print("| ---: | ---: | " + " | ".join("---:" for _ in tables) + " |")
    for n in lengths:
        total = next(t[n][1] for t in tables.values() if n in t)
        cells = [f"{t[n][0] / t[n][1]:.1%}" if n in t else "" for t in tables.values()]
        print(f"| {n} | {total} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
