"""Instantiate the pieces of a run from a validated config: data, network, LightningModule, trainer."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

from seqlab.config import compile_kwargs
from seqlab.data.modules import LMDataModule, Seq2SeqDataModule
from seqlab.data.noise import Noise
from seqlab.data.prepare import LAYOUTS
from seqlab.data.tokenizers import PAD_ID, Tokenizer
from seqlab.lit.base import SeqlabModule
from seqlab.lit.lm import LanguageModelModule
from seqlab.lit.loggers import with_metrics_csv
from seqlab.lit.prefix_lm import PrefixLMModule
from seqlab.lit.profiler import NoProfiler
from seqlab.lit.seq2seq import Seq2SeqModule
from seqlab.models.build import instantiate_net
from seqlab.runs.checkpoints import load_checkpoint, load_weights
from seqlab.runs.redaction import redact
from seqlab.runs.slurm import slurm_job_id


def build_datamodule(
    cfg: DictConfig, fixed_tokenizers: dict | None = None
) -> LMDataModule | Seq2SeqDataModule:
    kwargs = dict(
        data=cfg.data,
        tokenizer=cfg.tokenizer,
        loader=OmegaConf.to_container(cfg.loader, resolve=True),
        data_dir=cfg.paths.data_dir,
        cache_dir=cfg.paths.cache_dir,
        seed=cfg.seed,
        fixed_tokenizers=fixed_tokenizers,
        layout=LAYOUTS[cfg.task.kind],
    )
    if cfg.task.kind == "lm":
        return LMDataModule(block_size=cfg.task.block_size, **kwargs)
    prefix = cfg.model.family == "lm"
    return Seq2SeqDataModule(
        noise=Noise.from_config(cfg.task.get("noise")) if cfg.task.kind == "denoise" else None,
        prefix=prefix,
        prefix_block_size=cfg.task.get("block_size") if prefix else None,
        max_src_len=cfg.task.get("max_src_len"),
        keep_src=cfg.task.get("keep_src") or "first",
        **kwargs,
    )


def build_net(model_cfg: DictConfig, tokenizers: dict[str, Any]) -> torch.nn.Module:
    """The network for training: `instantiate_net`, compiled when `model.compile` is set."""
    net = instantiate_net(OmegaConf.to_container(model_cfg, resolve=True), tokenizers, PAD_ID)
    value = model_cfg.get("compile")
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    kwargs = compile_kwargs(value)
    if kwargs is not None:
        # In place: parameter names (and so checkpoints) stay those of the plain module.
        net.compile(**kwargs)
    return net


def prepare_training(
    net: torch.nn.Module, model_cfg: DictConfig, verbose: bool = True
) -> list[str]:
    """``model.freeze`` and ``model.gradient_checkpointing`` on the built network. The lines it
    prints (and returns) say what trains: the run's log must not hide a frozen part."""
    from seqlab.errors import SeqlabError
    from seqlab.models.parts import FreezeError, describe, freeze
    from seqlab.models.utils import count_parameters

    lines = []
    names = list(model_cfg.get("freeze") or [])
    if names:
        try:
            lines += describe(names, freeze(net, names))
        except FreezeError as e:
            raise SeqlabError(str(e)) from None
    if model_cfg.get("gradient_checkpointing"):
        net.enable_gradient_checkpointing()
        lines.append("model.gradient_checkpointing: activations recomputed in the backward pass")
    if model_cfg.get("adapter"):
        lora = OmegaConf.to_container(model_cfg.lora, resolve=True)
        lines.append(
            f"model.adapter: {model_cfg.adapter} " + ", ".join(f"{k}={v}" for k, v in lora.items())
        )
    counts = count_parameters(net)
    share = counts["trainable"] / max(counts["total"], 1)
    lines.append(
        f"trainable parameters: {counts['trainable']:,} of {counts['total']:,} ({share:.2%})"
    )
    if verbose:
        print("\n".join(lines), flush=True)
    return lines


def build_module(
    cfg: DictConfig, tokenizer_states: dict, net: torch.nn.Module, run_id: str | None = None
) -> SeqlabModule:
    common = dict(
        run_id=run_id,
        net=net,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        tokenizers=tokenizer_states,
        config=redact(OmegaConf.to_container(cfg, resolve=True)),  # kept in every checkpoint
    )
    if cfg.task.kind == "lm":
        return LanguageModelModule(**common)
    module_type = PrefixLMModule if cfg.model.family == "lm" else Seq2SeqModule
    return module_type(
        label_smoothing=cfg.task.label_smoothing,
        val_generate_limit=cfg.task.val_generate_limit,
        metrics=list(cfg.task.get("metrics") or ["exact_match", "bleu"]),
        decoding=OmegaConf.to_container(cfg.decoding, resolve=True),
        bleu_tokenize=cfg.task.bleu_tokenize,
        **common,
    )


def build_trainer(
    cfg: DictConfig, extra_callbacks: tuple = (), without: tuple = (), **overrides: Any
) -> L.Trainer:
    """The run's trainer with its loggers and configured callbacks (benchmarks: minus the ones
    named in ``without``, plus ``extra_callbacks``, with Trainer arguments ``overrides``)."""
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    if cfg.get("logger") is not None and cfg.paths.get("output_dir"):
        loggers = with_metrics_csv(loggers, cfg.paths.output_dir)
    # enable_progress_bar false: Lightning refuses a bar callback.
    bar = overrides.get("enable_progress_bar", cfg.trainer.get("enable_progress_bar", True))
    callbacks = [
        instantiate(c)
        for name, c in (cfg.get("callbacks") or {}).items()
        if c and name not in without and (bar or name != "progress_bar")
    ]
    trainer = instantiate_trainer(
        cfg.trainer, logger=loggers or False, callbacks=[*callbacks, *extra_callbacks], **overrides
    )
    if trainer.fast_dev_run and loggers:
        # Lightning swaps every logger for a dummy in fast_dev_run; a smoke test still leaves its
        # metrics.csv (the run-folder contract), but sends nothing to the dashboards.
        trainer.loggers = [lg for lg in loggers if isinstance(lg, CSVLogger)]
    return trainer


def instantiate_trainer(trainer_cfg: DictConfig, **kwargs: Any) -> L.Trainer:
    """``trainer_cfg`` instantiated; with no ``profiler`` set, one that costs nothing per hook."""
    if trainer_cfg.get("profiler") is None:
        kwargs.setdefault("profiler", NoProfiler())
    if slurm_job_id() and not trainer_cfg.get("plugins") and "plugins" not in kwargs:
        from lightning.pytorch.plugins.environments import SLURMEnvironment

        if SLURMEnvironment.detect():  # ranks from srun; requeue is seqlab's (ExactResume), not its
            kwargs["plugins"] = [SLURMEnvironment(auto_requeue=False)]
    return instantiate(trainer_cfg, **kwargs)


def load_module(path: str) -> SeqlabModule:
    """A trained LightningModule from a checkpoint alone (eval mode, CPU), for use from Python:
    ``load_module(ckpt).encode(texts)`` gives a denoising autoencoder's latent vectors."""
    ckpt = load_checkpoint(path)
    states = ckpt["seqlab"]["tokenizers"]
    cfg = OmegaConf.create(ckpt["seqlab"]["config"])
    tokenizers = {role: Tokenizer.from_state(s) for role, s in states.items()}
    net = instantiate_net(ckpt["seqlab"]["config"]["model"], tokenizers, PAD_ID)
    load_weights(net, ckpt, path)
    return build_module(cfg, states, net, ckpt["seqlab"].get("run_id")).eval()
