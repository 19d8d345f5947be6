"""The OmegaConf resolvers conf/ uses, registered on import (every entry point imports this).

Run folders and ids come from ``seqlab.runs.folder``; the checkpoint monitor from ``seqlab.metrics.names``.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from seqlab.metrics.names import default_monitor, monitor_mode
from seqlab.runs.folder import job_gpu, run_id_for, run_stamp, sweep_id
from seqlab.runs.slurm import gpus_per_node, tasks_per_node


def task_monitor(*, _root_: DictConfig) -> str:
    """``${task_monitor:}``: the key that picks the best checkpoint (see ``default_monitor``)."""
    return default_monitor(_root_.task, _root_.get("data") or {})


def run_tags(*, _root_: DictConfig) -> list[str]:
    """``${run_tags:}``: ``task:…``, ``model:…``, ``data:…`` and the size and experiment options
    picked (where a Hydra run picked them): what dashboards filter and group runs by."""
    from hydra.core.hydra_config import HydraConfig

    tags = [f"{part}:{_root_[part].name}" for part in ("task", "model", "data")]
    if HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
        tags += [f"{g}:{choices[g]}" for g in ("size", "experiment") if choices.get(g)]
    return tags


def optuna_direction(mode: str) -> str:
    """``${optuna_direction:${task.monitor_mode}}``: Optuna's word for a monitor mode."""
    return "minimize" if mode == "min" else "maximize"


for _name, _resolver in {
    "run_stamp": run_stamp,
    "job_gpu": job_gpu,
    "run_id": run_id_for,
    "sweep_id": sweep_id,
    "task_monitor": task_monitor,
    "monitor_mode": monitor_mode,
    "optuna_direction": optuna_direction,
    "run_tags": run_tags,
    "slurm_tasks": tasks_per_node,
    "slurm_gpus": gpus_per_node,
}.items():
    # run_stamp is cached in the config: a sweep job composed in another process (joblib, Slurm,
    # a requeued attempt) copies the launching config's cache, so it names the same sweep folder.
    OmegaConf.register_new_resolver(_name, _resolver, replace=True, use_cache=_name == "run_stamp")
