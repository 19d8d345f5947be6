"""A long data build's progress lines: at most one every few seconds, with rate and time left."""

from __future__ import annotations

import io

import numpy as np

from seqlab.data.progress import Progress


def test_progress_says_how_far_how_fast_and_how_long_still():
    now = [0.0]
    out = io.StringIO()
    progress = Progress("tokenizing train", 100_000_000, every_s=5, out=out, clock=lambda: now[0])
    chunks = [np.zeros(10_000_000, np.uint16)] * 10
    for i, chunk in enumerate(progress.wrap(iter(chunks))):
        assert len(chunk) == 10_000_000
        now[0] = 2.0 * (i + 1)  # 5 M chars/s
    lines = out.getvalue().splitlines()
    # Updates at 6, 12 and 18 s are at least 5 s apart (2-s steps: 6, 12, 18); the last is silent.
    assert lines == [
        "tokenizing train: 30 M of 100 M chars (30 %), 5.0 M chars/s, about 14 s left",
        "tokenizing train: 60 M of 100 M chars (60 %), 5.0 M chars/s, about 8 s left",
        "tokenizing train: 90 M of 100 M chars (90 %), 5.0 M chars/s, about 2 s left",
    ]
