"""Optimizer parameter groups and learning-rate schedules (built from Hydra partials in conf/)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def param_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices only: biases, norms and other 1-D parameters are not decayed (as in GPT-2)."""
    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def fused_supported(module: nn.Module) -> bool:
    """Whether PyTorch has a fused optimizer kernel for every parameter (device and dtype)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        devices = set(_get_fused_kernels_supported_devices())
    except ImportError:  # older PyTorch: CUDA only
        devices = {"cuda"}
    return all(p.device.type in devices and p.is_floating_point() for p in module.parameters())


def build_optimizer(
    factory: Callable, module: nn.Module, allow_fused: bool = True
) -> torch.optim.Optimizer:
    """Call an optimizer partial on parameter groups, taking weight decay from the partial.

    ``fused: null`` in the optimizer config becomes ``fused=True`` when the optimizer takes that
    argument and PyTorch has the kernel for the parameters' device (one kernel for the whole
    update instead of several per tensor; experiments/benchmarks/README.md), unless
    ``allow_fused`` is False (Lightning refuses gradient clipping with a fused optimizer under
    mixed precision) or ``foreach`` is set.

    Args:
        factory: Optimizer partial (``_partial_: true`` in conf/optimizer/).
        module: The network whose parameters are optimized.
        allow_fused: Whether ``fused: null`` may turn the fused kernel on.
    """
    keywords = getattr(factory, "keywords", {})
    weight_decay = keywords.get("weight_decay", 0.0)
    extra = {}
    if (
        allow_fused
        and "fused" in keywords
        and keywords["fused"] is None
        and keywords.get("foreach") is None
        and fused_supported(module)
    ):
        extra["fused"] = True
    return factory(param_groups(module, weight_decay), **extra)


def cosine_schedule(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.1,
) -> LambdaLR:
    """Linear warmup, then cosine decay to `min_lr_ratio` × lr at `total_steps` (nanoGPT's rule)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        if step >= total_steps:
            return min_lr_ratio
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return min_lr_ratio + 0.5 * (1.0 + math.cos(math.pi * progress)) * (1.0 - min_lr_ratio)

    return LambdaLR(optimizer, factor)


def inverse_sqrt_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 4000
) -> LambdaLR:
    """Linear warmup, then lr ∝ 1/sqrt(step) (Vaswani et al. 2017), peaking at the configured lr."""

    def factor(step: int) -> float:
        step += 1
        return min(step / warmup_steps, math.sqrt(warmup_steps / step))

    return LambdaLR(optimizer, factor)


def constant_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0
) -> LambdaLR:
    """Linear warmup, then the configured lr."""
    return LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / (warmup_steps + 1)))
