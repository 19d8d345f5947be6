"""The compute plan of a run, before any training: what it costs in FLOPs, memory, data and time.

Every figure is per device: Lightning's ``loader.batch_size`` is per process, so each device
runs the whole step; data-parallel runs split the batches of an epoch between devices (LM
windows are drawn per device, so their epoch does not shrink). The FLOP and activation ledgers
are in ``seqlab.planning.architectures``; tests/test_plan.py holds them to a real step.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from seqlab.data.prepare import LAYOUTS
from seqlab.data.tokenizers import PAD_ID
from seqlab.errors import SeqlabError
from seqlab.models.build import instantiate_net
from seqlab.models.parts import FreezeError, freeze
from seqlab.models.utils import count_parameters
from seqlab.planning.architectures import forward_cost, generation_flops
from seqlab.planning.data import data_stats, lm_batches, pair_batches, prefix_batches
from seqlab.planning.hardware import accelerator, peak_flops, precision, strategy_name, world_size
from seqlab.planning.memory import memory_per_device, optimizer_states
from seqlab.planning.settings import PlanSettings

TRAINER_KEYS = (
    *("accelerator", "devices", "num_nodes", "strategy", "precision"),
    *("max_steps", "max_epochs", "limit_train_batches", "accumulate_grad_batches"),
    *("fast_dev_run", "overfit_batches"),
)


def plan_settings(cfg: DictConfig) -> PlanSettings:
    """The ``plan`` section over the schema defaults (which mirror conf/plan/default.yaml)."""
    merged = OmegaConf.merge(OmegaConf.structured(PlanSettings), cfg.get("plan") or {})
    return OmegaConf.to_object(merged)


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _parameters(cfg: DictConfig, vocab: dict[str, int]) -> tuple[dict[str, int], int]:
    """Parameter counts and the largest tensor's size, from the network built on the meta device."""
    tokenizers = {role: SimpleNamespace(vocab_size=v) for role, v in vocab.items()}
    with torch.device("meta"):
        net = instantiate_net(_plain(cfg.model), tokenizers, PAD_ID)
    try:
        freeze(net, list(cfg.model.get("freeze") or []))
    except FreezeError as e:
        raise SeqlabError(str(e)) from None
    return count_parameters(net), max(p.numel() for p in net.parameters())


def _steps(trainer: dict, per_epoch: int | None) -> tuple[int | None, int | None]:
    """(optimizer steps per epoch, steps the run will take), as Lightning counts them."""
    accumulate = int(trainer.get("accumulate_grad_batches") or 1)
    limit = trainer.get("limit_train_batches")
    max_steps, max_epochs = trainer.get("max_steps", -1), trainer.get("max_epochs")
    if trainer.get("overfit_batches"):  # Lightning trains on that many (or that share of) batches
        limit = trainer["overfit_batches"]
    fast = trainer.get("fast_dev_run")
    if fast:  # Lightning: n batches (true = 1) of every split, one epoch
        limit = max_steps = 1 if fast is True else int(fast)
        max_epochs = 1
    if per_epoch is not None and limit is not None:
        per_epoch = min(per_epoch, int(limit)) if isinstance(limit, int) else int(per_epoch * limit)
    per_epoch = math.ceil(per_epoch / accumulate) if per_epoch is not None else None
    if max_epochs is None and max_steps in (None, -1):
        max_epochs = 1000  # Lightning's default when neither limit is set
    by_steps = max_steps if max_steps not in (None, -1) else math.inf
    by_epochs = (
        math.inf if max_epochs in (None, -1) or per_epoch is None else max_epochs * per_epoch
    )
    total = min(by_steps, by_epochs)
    return per_epoch, None if math.isinf(total) else int(total)


def _time(settings: PlanSettings, model: str, step_flops: float, steps: dict, peak: tuple) -> dict:
    """Seconds per step, epoch and run at ``utilization`` of the device's peak FLOP/s."""
    flops, source = peak
    utilization = settings.utilization.get(model, settings.utilization["default"])
    per_step = step_flops / (flops * utilization) if flops else None

    def seconds(n: int | None) -> float | None:
        return round(n * per_step, 3) if n is not None and per_step else None

    return {
        "peak_flops": flops, "peak_source": source, "utilization": utilization,
        "per_step_s": per_step and round(per_step, 5),
        "per_epoch_s": seconds(steps["per_epoch"]), "total_s": seconds(steps["total"]),
    }  # fmt: skip


def make_plan(cfg: DictConfig, fixed_tokenizers: dict | None = None) -> dict[str, Any]:
    """Estimate a composed train config; plain numbers only, so it goes into results.json.

    Args:
        cfg: The composed seqlab-train config.
        fixed_tokenizers: Tokenizer states of a checkpoint being fine-tuned (its cache key).

    Returns:
        Nested dict: model, parameters, vocab, devices, batch, flops, memory (bytes per device),
        data, steps and time (seconds; None where the data size or the peak is unknown).
    """
    settings = plan_settings(cfg)
    plain = {k: _plain(cfg[k]) for k in ("data", "tokenizer")}
    plain["paths"] = {k: cfg.paths[k] for k in ("data_dir", "cache_dir")}
    stats = data_stats(plain, settings, fixed_tokenizers, LAYOUTS[cfg.task.kind])
    stream = cfg.task.kind == "lm"  # token windows; otherwise pairs
    lm = cfg.model.family == "lm"  # decoder-only: pairs run as prefix LM
    one_vocab = stats.vocab["text"] if stream else stats.vocab["tgt"]
    vocab = one_vocab if lm else (stats.vocab["src"], stats.vocab["tgt"])
    net, loader, optimizer = _plain(cfg.model.net), _plain(cfg.loader), _plain(cfg.get("optimizer"))
    model = str(net["_target_"]).rsplit(".", 1)[-1]
    # Only the keys the plan reads: others (default_root_dir) may need Hydra's resolvers.
    trainer = {k: _plain(cfg.trainer.get(k)) for k in TRAINER_KEYS if k in cfg.trainer}
    world, world_known = world_size(trainer)
    device, strategy = accelerator(trainer), strategy_name(trainer)
    prec_name, prec = precision(trainer.get("precision", "32-true"))

    if stream:
        batches = lm_batches(stats, loader["batch_size"], cfg.task.block_size)
    else:
        batches = pair_batches(stats, loader, world, cfg.seed, settings.assumed_length)
        if lm:
            batches = prefix_batches(batches, cfg.task.get("block_size"))
    shapes, tgt_tokens = batches.shapes, batches.tgt_tokens
    cost = forward_cost(net, vocab, shapes, cpu=device == "cpu")
    train_flops = 3.0 * np.asarray(cost.flops)  # forward + backward (2x) of every batch
    accumulate = int(trainer.get("accumulate_grad_batches") or 1)
    src_len = 0.0 if lm else float(np.mean(shapes.src_tokens / shapes.batch))
    tgt_len = float(np.mean(tgt_tokens / shapes.batch))

    params, largest = _parameters(cfg, stats.vocab)
    foreach = (optimizer or {}).get("foreach")  # null: PyTorch uses foreach kernels on GPUs
    foreach = device == "cuda" if foreach is None else bool(foreach)
    memory = memory_per_device(
        cost, shapes, vocab if lm else vocab[1], params["total"], prec,
        optimizer_states(optimizer), device == "cpu", strategy, world, largest, foreach,
        params["trainable"],
    )  # fmt: skip
    per_epoch, total = _steps(trainer, batches.per_epoch)
    steps = {"per_epoch": per_epoch, "total": total}
    step_flops = float(train_flops.mean()) * accumulate
    peak = peak_flops(settings.peak_flops, device, prec.dtype, cfg.paths.cache_dir)
    return {
        "model": model,
        "parameters": params,
        "vocab": stats.vocab,
        "devices": {"count": world, "known": world_known, "accelerator": device,
                    "precision": prec_name, "strategy": strategy},
        "batch": {"sequences": float(np.mean(shapes.batch)), "src_len": round(src_len, 2),
                  "tgt_len": round(tgt_len, 2), "tokens": float(np.mean(tgt_tokens)),
                  "accumulate": accumulate},
        "flops": {"train_per_token": float(train_flops.sum() / np.sum(tgt_tokens)),
                  "generate_per_token": generation_flops(net, vocab, src_len, tgt_len),
                  "per_step": step_flops},
        "memory": memory,
        "data": {"source": stats.source, "train_tokens": stats.train_tokens,
                 "train_examples": None if stats.src_lens is None else len(stats.src_lens)},
        "steps": steps,
        "time": _time(settings, model, step_flops, steps, peak),
    }  # fmt: skip
