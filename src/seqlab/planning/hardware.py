"""What a device holds and how fast it multiplies: precision bytes, devices, peak FLOP/s.

The peak is a large square matmul in the training dtype, timed once per machine, dtype and
thread count and cached in ``<paths.cache_dir>/peak_flops.json``; ``plan.peak_flops`` overrides
it (needed to plan for an accelerator this machine does not have).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from seqlab.errors import SeqlabError


@dataclasses.dataclass
class Precision:
    """Bytes per element of what a training step keeps.

    Attributes:
        weights: Parameters, plus the half copy autocast caches during forward (mixed precision).
        grads: Gradients (same dtype as the parameters).
        states: Each optimizer state (Adam's moments live in the parameter dtype).
        activations: Saved activations (mixed precision: the half copies matmuls keep).
        dtype: The dtype matmuls run in, for the peak measurement.
    """

    weights: float
    grads: float
    states: float
    activations: float
    dtype: torch.dtype


PRECISIONS = {
    "64-true": Precision(8, 8, 8, 8, torch.float64),
    "32-true": Precision(4, 4, 4, 4, torch.float32),
    "16-mixed": Precision(6, 4, 4, 2, torch.float16),
    "bf16-mixed": Precision(6, 4, 4, 2, torch.bfloat16),
    "16-true": Precision(2, 2, 2, 2, torch.float16),
    "bf16-true": Precision(2, 2, 2, 2, torch.bfloat16),
}
_ALIASES = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


def precision(value: Any) -> tuple[str, Precision]:
    """Lightning's ``trainer.precision`` (e.g. 32, "bf16-mixed") -> (canonical name, bytes)."""
    name = _ALIASES.get(str(value), str(value))
    if name not in PRECISIONS:
        raise SeqlabError(
            f"config key 'trainer.precision': seqlab-plan knows {', '.join(PRECISIONS)}, "
            f"got {value!r}"
        )
    return name, PRECISIONS[name]


def accelerator(trainer: Mapping) -> str:
    """'cpu', 'cuda' or 'mps': where the trainer will run (auto = what this machine has)."""
    acc = str(trainer.get("accelerator", "cpu"))
    if acc == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    return "cuda" if acc in ("gpu", "cuda") else acc


def world_size(trainer: Mapping) -> tuple[int, bool]:
    """Processes that train together, and whether that count is known (not just assumed 1).

    ``devices: -1`` / ``auto`` count this machine's GPUs for GPU trainers; on a machine without
    them the count is unknown and 1 is assumed.
    """
    devices, nodes = trainer.get("devices", 1), int(trainer.get("num_nodes", 1) or 1)
    if isinstance(devices, (list, tuple)):
        return len(devices) * nodes, True
    if str(devices).lstrip("-").isdigit() and int(devices) > 0:
        return int(devices) * nodes, True
    if accelerator(trainer) == "cuda" and torch.cuda.is_available():
        return torch.cuda.device_count() * nodes, True
    if accelerator(trainer) == "cpu" and str(devices) == "auto":
        return nodes, True  # Lightning's CPU "auto" is one process
    return nodes, False


def strategy_name(trainer: Mapping) -> str:
    """'fsdp', 'ddp' or 'single' from a strategy string or a strategy object config."""
    spec = trainer.get("strategy", "auto")
    text = str(spec.get("_target_", "") if isinstance(spec, Mapping) else spec).lower()
    if "fsdp" in text:
        return "fsdp"
    return "ddp" if "ddp" in text else "single"


def _device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def _matmul_level(dtype: torch.dtype) -> str:
    """How float32 matmuls run now, when not exactly (TF32 or bfloat16 inputs are other peaks)."""
    if dtype != torch.float32:
        return ""
    try:
        level = torch.get_float32_matmul_precision()
    except RuntimeError:  # PyTorch's per-backend settings were mixed in: no one level to name
        return " matmul-mixed"
    return "" if level == "highest" else f" matmul-{level}"


def measure_peak_flops(device: str, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """FLOP/s of repeated (n × n) @ (n × n) matmuls on ``device`` for about ``seconds``.

    On a CUDA GPU the products are large (8192: smaller ones leave tensor cores idle) and queued
    twenty at a time between synchronizations, after a warm-up that brings the clocks up from idle.
    """
    gpu = device == "cuda"
    n, burst = (8192, 20) if gpu else (1024, 1)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()
        elif device == "mps":
            torch.mps.synchronize()

    start = time.perf_counter()
    while True:  # warm-up: kernels, caches, thread pool, GPU clocks
        a @ b
        sync()
        if time.perf_counter() - start > (0.3 if gpu else 0.0):
            break
    reps, start = 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - start < seconds:
        for _ in range(burst):
            a @ b
        reps += burst
        sync()
    return 2.0 * n**3 * reps / (time.perf_counter() - start)


def peak_flops(
    configured: float | None, device: str, dtype: torch.dtype, cache_dir: str | Path
) -> tuple[float | None, str]:
    """Peak FLOP/s per device and where it came from ('config', 'cached', 'measured', or why none)."""
    if configured:
        return float(configured), "config"
    here = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not here.get(device, False):
        return None, f"no {device} here to measure; set plan.peak_flops"
    key = f"{_device_name(device)} {str(dtype).removeprefix('torch.')}{_matmul_level(dtype)}"
    path = Path(cache_dir).expanduser() / "peak_flops.json"
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if key in known:
        return float(known[key]), "cached"
    value = measure_peak_flops(device, dtype)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**known, key: value}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a re-measurement next time
    return value, "measured"
