"""The profiler a Trainer gets when none is configured: Lightning's pass-through one, minus its cost.

Lightning wraps every hook it calls (over a hundred a training step with seqlab's callbacks) in
``trainer.profiler.profile(name)``. Its default ``PassThroughProfiler`` records nothing, yet its
``profile`` is a generator context manager, several times the cost of one shared
``nullcontext`` (measured by ``experiments/benchmarks/loop_overhead.py``).
"""

from __future__ import annotations

import contextlib

from lightning.pytorch.profilers import PassThroughProfiler


class NoProfiler(PassThroughProfiler):
    """Profiles nothing, as ``PassThroughProfiler`` does, without entering a generator each hook.

    ``trainer.profiler=simple`` (or any other) replaces it as usual.
    """

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:
        return self._nothing
