"""Run seqlab-train's job function in this process on a composed config, as Hydra would.

A subprocess adds seconds of imports to every run; CLI tests that need no exit code, signal or
console script call ``train_in_process`` instead (lightning-hydra-template's ``cfg_train``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict


def compose_train(out: Path, *overrides: str, data_root: Path, cache_dir: Path) -> DictConfig:
    """seqlab-train's config for ``overrides``, writing its run folder at ``out``."""
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"paths.data_dir={data_root}", f"paths.cache_dir={cache_dir}", *overrides],
            return_hydra_config=True,
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.hydra.runtime.output_dir = str(out)
        cfg.hydra.job.num = 0
    return cfg


def train_in_process(out: Path, *overrides: str, data_root: Path, cache_dir: Path) -> dict:
    """Train as ``seqlab-train overrides...`` would, in ``out``; returns its results.json."""
    from seqlab.train import train

    cfg = compose_train(out, *overrides, data_root=data_root, cache_dir=cache_dir)
    HydraConfig.instance().set_config(cfg)
    os.environ.setdefault("WANDB_MODE", "offline")
    train(cfg)
    return json.loads((Path(out) / "results.json").read_text())
