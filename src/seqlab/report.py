"""seqlab-report: rebuild a sweep's or runs folder's summary and report.html at any time.

Plain argparse rather than Hydra: the command reads finished run folders and composes no
config. Writes summary.csv, summary.md, report.html and plots/*.png into the folder.
"""

from __future__ import annotations

import argparse
import math
import os

from seqlab.cli import fail
from seqlab.errors import SeqlabError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="seqlab-report",
        description="Summarize every run folder (any folder holding run.json) under FOLDER.",
    )
    parser.add_argument("folder", help="a sweep folder, a folder of runs, or one run folder")
    parser.add_argument(
        "--optimized-metric",
        default=None,
        help="metric that ranks the runs, e.g. val/loss (default: each run's optimized_metric)",
    )
    parser.add_argument(
        "--mode",
        choices=("min", "max"),
        default=None,
        help="whether lower or higher is better (default: each run's task.monitor_mode)",
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="write summary.csv/md only, no plots or HTML"
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="keep rebuilding while runs write (the page reloads itself); Ctrl-C to stop",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --watch: how often to look for changes and reload the page (default 10)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.interval < math.inf:
        fail(f"--interval must be a positive number of seconds, got {args.interval:g}")
    if args.watch and args.summary_only:
        fail("--watch rebuilds report.html; it cannot be combined with --summary-only")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Imported here so `--help` answers without loading matplotlib.
    from seqlab.reporting import build_report, write_summary

    try:
        if args.watch:
            from seqlab.reporting.watch import watch

            path = watch(args.folder, args.interval, args.optimized_metric, args.mode)
            print(f"report: {path}" if path else f"no run folders under {args.folder}")
        elif args.summary_only:
            rows = write_summary(args.folder, args.optimized_metric, args.mode)
            print(f"{len(rows)} runs: {os.path.join(args.folder, 'summary.md')}")
        else:
            path = build_report(args.folder, args.optimized_metric, args.mode)
            print(f"report: {path}")
    except SeqlabError as e:
        if os.environ.get("SEQLAB_DEBUG"):
            raise
        fail(str(e))


if __name__ == "__main__":
    main()
