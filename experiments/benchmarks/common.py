"""What every benchmark script's command line shares: the data root and the smoke-test switch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# The datasets beside the repository (../shared/data) unless SEQLAB_DATA_DIR names another root.
DEFAULT_DATA_DIR = Path(
    os.environ.get("SEQLAB_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")
)


def benchmark_parser(doc: str, quick: str) -> argparse.ArgumentParser:
    """A parser described by the script's docstring, with ``--data-dir`` (a Path) and ``--quick``
    (``quick`` says what the smoke test runs)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="datasets' root (default: $SEQLAB_DATA_DIR, else ../shared/data)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {quick}")
    return parser
