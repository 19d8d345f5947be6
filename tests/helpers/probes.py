"""Test-only callbacks that record what a training process looks like from inside.

CLI tests add them with `+callbacks.<name>._target_=probes.<Class>` and `tests/` on PYTHONPATH.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import lightning as L


class GarbageCollectorProbe(L.Callback):
    """Writes the collector's state at the first training batch to `path` (JSON)."""

    def __init__(self, path: str):
        self.path = Path(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            state = {
                "enabled": gc.isenabled(),
                "frozen": gc.get_freeze_count(),
                "full_collections": gc.get_stats()[2]["collections"],
            }
            self.path.write_text(json.dumps(state))
