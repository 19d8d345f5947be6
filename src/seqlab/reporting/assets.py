"""The report's inline assets: its CSS and script (static/), and Plotly's JavaScript packed small.

report.html must open from disk with no network, so Plotly's browser bundle (shipped inside the
`plotly` Python package) is embedded gzip-compressed and base64-encoded; the page unpacks it with
the browser's DecompressionStream. Packing takes a moment, so it is done once per process.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

from seqlab.errors import SeqlabError

STATIC = Path(__file__).with_name("static")


def css() -> str:
    return (STATIC / "report.css").read_text(encoding="utf-8")


def script() -> str:
    return (STATIC / "report.js").read_text(encoding="utf-8")


def plotly_path() -> Path:
    """plotly.min.js inside the installed plotly package (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    raise SeqlabError(
        "report.html embeds Plotly's JavaScript, which comes with the plotly package: "
        "pip install plotly (or use seqlab-report --summary-only)"
    )


@lru_cache(maxsize=1)
def plotly_packed() -> str:
    """Plotly's bundle, gzip-compressed then base64-encoded, for a <script type="text/plain">."""
    data = gzip.compress(plotly_path().read_bytes(), compresslevel=9, mtime=0)
    return base64.b64encode(data).decode("ascii")
