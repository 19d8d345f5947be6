"""Memory one device holds during a training step: weights, gradients, optimizer, activations.

Weights and optimizer states (and DDP's gradient buckets) stay for the whole step; on top of
them the peak comes at one of two moments (measured on CPU in tests/test_plan.py):

- the start of backward: every saved activation plus the loss's two (B, T, V) buffers (its
  log-probabilities' and logits' gradients); gradients do not exist yet (zero_grad frees them);
- the optimizer step: the gradients plus the update's temporaries: one gradient-sized set for
  a multi-tensor (foreach) update, the default on GPUs; about two copies of the largest
  parameter for the per-parameter loop, the default on CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from seqlab.planning.architectures import Shapes
from seqlab.planning.costs import Cost
from seqlab.planning.hardware import Precision

# Optimizer states per parameter (Adam: two moments; SGD: momentum when it is on).
OPTIMIZER_STATES = {"Adam": 2, "AdamW": 2, "NAdam": 2, "RAdam": 2, "Adamax": 2, "SGD": 1}


def optimizer_states(optimizer: Mapping[str, Any] | None) -> int:
    """States per parameter of the configured optimizer (unknown optimizers: 2, as Adam)."""
    name = str((optimizer or {}).get("_target_", "")).rsplit(".", 1)[-1]
    if name == "SGD" and not (optimizer.get("momentum") or 0):
        return 0
    return OPTIMIZER_STATES.get(name, 2)


def memory_per_device(
    cost: Cost,
    shapes: Shapes,
    out_vocab: int,
    n_params: int,
    prec: Precision,
    states: int = 2,
    cpu: bool = True,
    strategy: str = "single",
    world: int = 1,
    largest: int = 0,
    foreach: bool = False,
    trainable: int | None = None,
) -> dict[str, int]:
    """Bytes per device; activations are those of the largest batch.

    Args:
        cost: Forward cost of the batches (fields may be per-batch arrays).
        shapes: The same batches.
        out_vocab: Output vocabulary V (the loss keeps (B, T, V) buffers).
        n_params: Parameters of the network.
        prec: Bytes per element by role.
        states: Optimizer states per parameter.
        cpu: Dropout keeps float masks on CPU, byte masks on GPU.
        strategy: 'fsdp' shards weights, gradients and states over ``world`` devices; 'ddp' keeps
            a bucket copy of the gradients for the all-reduce.
        world: Devices training together.
        largest: Elements of the largest parameter tensor.
        foreach: The optimizer updates all parameters at once (multi-tensor kernels).
        trainable: Parameters that get gradients and optimizer states (``model.freeze``, LoRA);
            None: all of them.

    Returns:
        Bytes of weights, optimizer, gradients, buckets, activations, and the peak.
    """
    shard = world if strategy == "fsdp" else 1
    trainable = n_params if trainable is None else trainable
    grads = trainable * prec.grads / shard
    logits = 2.0 * np.asarray(shapes.batch * shapes.tgt_len) * out_vocab
    mask_bytes = prec.activations if cpu else 1
    saved = (np.asarray(cost.saved) + logits) * prec.activations
    memory = {
        "weights": n_params * prec.weights / shard,
        "optimizer": states * trainable * prec.states / shard,
        "gradients": grads,
        "update": grads if foreach else 2 * min(largest, trainable) * prec.grads,
        "buckets": trainable * prec.grads if strategy == "ddp" and world > 1 else 0,
        "activations": float(np.max(saved + np.asarray(cost.masks) * mask_bytes)),
    }
    memory = {k: round(v) for k, v in memory.items()}
    resident = memory["weights"] + memory["optimizer"] + memory["buckets"]
    step = memory["gradients"] + memory["update"]
    return {**memory, "peak": resident + max(memory["activations"], step)}
