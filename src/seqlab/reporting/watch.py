"""seqlab-report --watch: rebuild a folder's report whenever one of its runs writes a file.

Polling (not inotify) so it works the same on network file systems where sweeps usually live.
While watching, the page reloads itself every interval; the last build, when watching stops,
is a plain page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.reporting.build import build_report
from seqlab.reporting.collect import find_run_dirs

# What a run writes as it progresses; a change to any of them changes the report.
WATCHED = ("run.json", "overrides.txt", "metrics.csv", "samples.csv", "results.json")


def snapshot(folder: Path) -> tuple:
    """Size and modification time of every watched file of every run under `folder`."""
    if not folder.is_dir():
        return ()
    seen = []
    for run in find_run_dirs(folder):
        for name in WATCHED:
            try:
                st = (run / name).stat()
            except OSError:
                continue
            seen.append((str(run / name), st.st_mtime_ns, st.st_size))
    return tuple(seen)


def watch(
    folder: Path,
    interval: float,
    optimized_metric: str | None = None,
    mode: str | None = None,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = print,
) -> Path | None:
    """Rebuild until `stop` is set (or Ctrl-C), then write the final page; returns its path."""
    folder, stop = Path(folder), stop or threading.Event()
    last, waiting = None, False
    try:
        while not stop.is_set():
            now = snapshot(folder)
            if now and now != last:
                path = build_report(folder, optimized_metric, mode, refresh_s=interval)
                runs = len({Path(name).parent for name, *_ in now})
                say(f"report: {path} ({runs} runs)")
                last = now
            elif not now and not waiting:
                say(f"waiting for run folders under {folder} (Ctrl-C to stop)")
                waiting = True
            stop.wait(interval)
    except KeyboardInterrupt:
        pass
    if not snapshot(folder):
        return None
    try:
        return build_report(folder, optimized_metric, mode)
    except SeqlabError:
        return None
