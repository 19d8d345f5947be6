"""What every seqlab LightningModule shares: optimizer/scheduler wiring and checkpoint contents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import nn

from seqlab.lit.optim import build_optimizer
from seqlab.models.utils import trainable_names
from seqlab.runs.model_card import card_facts


def logs_this_step(trainer: L.Trainer | None) -> bool:
    """Whether this training step's metrics reach the loggers (every ``log_every_n_steps``).

    Logging only then keeps ``self.log`` off the other steps, and with it Lightning's per-call
    bookkeeping; the loggers receive exactly the same values.
    """
    if trainer is None:
        return True
    # The property Lightning itself uses to decide (and its LearningRateMonitor too).
    return bool(trainer.fast_dev_run) or trainer._logger_connector.should_update_logs


class SeqlabModule(L.LightningModule):
    """Wraps a built `nn.Module`; owns optimization and what a checkpoint must carry.

    Args:
        net: the pure PyTorch model.
        optimizer: partial taking parameter groups.
        scheduler: partial taking (optimizer, total_steps) or None.
        tokenizers: tokenizer states (role → {"kind", "json"}), stored in every checkpoint.
        config: the composed run config as plain containers, stored in every checkpoint.
        run_id: the run's id, stored in every checkpoint.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable,
        scheduler: Callable | None = None,
        tokenizers: dict | None = None,
        config: dict | None = None,
        run_id: str | None = None,
    ):
        super().__init__()
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.tokenizer_states = tokenizers or {}
        self.run_config = config or {}
        self.run_id = run_id
        self.data_fingerprint: str | None = None  # set by seqlab-train; a resume compares it

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning's loop sets `_current_fx_name` before and after every hook it calls, dozens
        # of times a training step. nn.Module's __setattr__ first checks the value against
        # parameters, buffers and submodules, and the value is only ever a hook's name or None
        # (cost: experiments/benchmarks/loop_overhead.py).
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def configure_optimizers(self) -> Any:
        # Lightning refuses to clip a fused optimizer's gradients under mixed precision; seqlab
        # clips them itself where that is sound (`configure_gradient_clipping`).
        mixed = "mixed" in str(self.trainer.precision)
        optimizer = build_optimizer(
            self.optimizer_factory, self.net, allow_fused=not mixed or self._unscaled_autocast()
        )
        if self.scheduler_factory is None:
            return optimizer
        total = getattr(self.scheduler_factory, "keywords", {}).get("total_steps")
        if total is None:
            total = int(self.trainer.estimated_stepping_batches)
            scheduler = self.scheduler_factory(optimizer, total_steps=total)
        else:
            scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def log_reduced(self, name: str, value: Any, **kwargs: Any) -> None:
        """Logs an epoch value that a torchmetrics metric already reduced over every process.

        ``sync_dist=True`` only tells Lightning so (it warns on every DDP epoch otherwise); its
        mean over equal values costs one small all-reduce per value and epoch. Values move to the
        module's device first: NCCL reduces no CPU tensors (text metrics compute on the CPU).
        """
        if isinstance(value, torch.Tensor):
            value = value.to(self.device)
        self.log(name, value, sync_dist=True, **kwargs)

    def _unscaled_autocast(self) -> bool:
        """Lightning's autocast plugin without a gradient scaler: bf16-mixed, one device or DDP.

        Not 16-mixed (a fused optimizer unscales inside its step, after clipping would have seen
        scaled gradients) and not FSDP (sharded gradients need FSDP's own norm).
        """
        plugin = self.trainer.precision_plugin
        return type(plugin) is MixedPrecision and plugin.scaler is None

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clips a fused optimizer's gradients under bf16-mixed too.

        Lightning refuses any fused optimizer under mixed precision, a rule meant for fp16's
        gradient scaler; with bf16 the gradients are the true ones and clipping them is sound.
        """
        fused = getattr(optimizer, "_step_supports_amp_scaling", False)
        if not gradient_clip_val or not fused or not self._unscaled_autocast():
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if gradient_clip_algorithm == "value":  # GradClipAlgorithmType is a str enum
            torch.nn.utils.clip_grad_value_(params, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls, checkpoint_path: str | Path, map_location: Any = None, **_: Any
    ) -> SeqlabModule:
        """Lightning's loader, fed by what every seqlab checkpoint carries (config, tokenizers,
        weights): the module is rebuilt as seqlab-train built it, no pickled hyperparameters."""
        from omegaconf import OmegaConf

        from seqlab.data.tokenizers import PAD_ID, Tokenizer
        from seqlab.errors import SeqlabError
        from seqlab.lit.build import build_module
        from seqlab.models.build import instantiate_net
        from seqlab.runs.checkpoints import load_checkpoint, load_weights

        ckpt = load_checkpoint(checkpoint_path)
        stored = ckpt["seqlab"]
        states = stored["tokenizers"]
        tokenizers = {role: Tokenizer.from_state(state) for role, state in states.items()}
        net = instantiate_net(stored["config"]["model"], tokenizers, PAD_ID)
        load_weights(net, ckpt, str(checkpoint_path))
        module = build_module(OmegaConf.create(stored["config"]), states, net, stored.get("run_id"))
        if not isinstance(module, cls):
            raise SeqlabError(
                f"checkpoint {checkpoint_path} holds a {type(module).__name__}, not a "
                f"{cls.__name__}; load it with {type(module).__name__}.load_from_checkpoint"
            )
        return module.to(map_location) if isinstance(map_location, (str, torch.device)) else module

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if getattr(self.net, "stores_trainable_only", False):  # LoRA: the base is model.pretrained
            keep = {f"net.{name}" for name in trainable_names(self.net)}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items()
                                        if k in keep}  # fmt: skip
        # Plain containers only, so `torch.load(weights_only=True)` can read the checkpoint.
        checkpoint["seqlab"] = {
            "tokenizers": self.tokenizer_states,
            "config": self.run_config,
            "run_id": self.run_id,
            "data_fingerprint": self.data_fingerprint,
            "card": card_facts(self.run_config) if self.run_config else None,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint of the trainable tensors only (LoRA) loads over the base weights this
        module already holds (`load_weights` put them there), so loading stays strict."""
        if getattr(self.net, "stores_trainable_only", False):
            checkpoint["state_dict"] = {**self.state_dict(), **checkpoint["state_dict"]}
