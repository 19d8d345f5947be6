"""Float32 matmul precision per device kind, for a run's length."""

from __future__ import annotations

import lightning as L
import torch

from seqlab.errors import SeqlabError

_MATMUL_LEVELS = ("highest", "high", "medium")


def cpu_flash_attention_pays(matmul_level: str) -> bool:
    """Whether PyTorch's CPU flash attention beats its math path: not for float32 tensors at the
    "medium" level, where its small block products are far slower than the math path's
    (experiments/benchmarks/README.md, the --bf16 rows of lm_training.py)."""
    return matmul_level != "medium"


class MatmulPrecision(L.Callback):
    """How float32 matmuls may trade precision for speed, per device kind, for the run's length.

    Both settings go through ``torch.set_float32_matmul_precision``: "highest" is exact float32;
    "high" uses TF32 where the hardware has it (Ampere or newer GPUs: Lightning's recommendation;
    CPUs with AMX-TF32), else float32; "medium" multiplies bfloat16-rounded inputs with float32
    sums (on CPU, oneDNN does this on AMX or AVX512-BF16 units, at a multiple of the float32
    rate). A CPU
    run at "medium" also turns PyTorch's flash attention off for its length
    (``cpu_flash_attention_pays``): its small block products are slow at that level, where the
    math attention's gain like any matmul. The CPU default stays exact so CPU results compare
    across machines and with other tools; the previous settings come back when the run ends, so
    runs in one process do not inherit them.

    Args:
        float32: the level for CUDA runs.
        cpu_float32: the level for CPU runs.
    """

    def __init__(self, float32: str = "high", cpu_float32: str = "highest"):
        for key, value in (("float32", float32), ("cpu_float32", cpu_float32)):
            if value not in _MATMUL_LEVELS:
                raise SeqlabError(
                    f"config key 'callbacks.matmul_precision.{key}': {value!r} is not a level; "
                    f"use one of {', '.join(_MATMUL_LEVELS)}"
                )
        self.float32, self.cpu_float32 = float32, cpu_float32
        self._previous: str | None = None
        self._flash_was: bool | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        level = {"cuda": self.float32, "cpu": self.cpu_float32}.get(pl_module.device.type)
        if level is None:
            return
        try:  # unreadable when other code mixed PyTorch's per-backend settings in: leave it then
            previous = torch.get_float32_matmul_precision()
        except RuntimeError:
            return
        if previous != level:
            self._previous = previous
            torch.set_float32_matmul_precision(level)
        if pl_module.device.type == "cpu" and not cpu_flash_attention_pays(level):
            # One switch for every device's SDPA backend choice, despite its module's name.
            self._flash_was = torch.backends.cuda.flash_sdp_enabled()
            torch.backends.cuda.enable_flash_sdp(False)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._previous is not None:
            torch.set_float32_matmul_precision(self._previous)
            self._previous = None
        if self._flash_was is not None:
            torch.backends.cuda.enable_flash_sdp(self._flash_was)
            self._flash_was = None
