"""seqlab-eval: score a checkpoint on a split; needs nothing but the checkpoint (and the data)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from seqlab.cli import end_startup, entry_point, quiet, user_errors
from seqlab.errors import SeqlabError
from seqlab.runs.folder import RunFolder


def decoding_config(cfg: DictConfig, task: str, overrides: Sequence[str]) -> DictConfig:
    """``decoding=<strategy>`` as ``seqlab-train task=<task> decoding=<strategy>`` composes it: the
    strategy's file, then the task's decoding settings (its length rule), then this command's
    ``decoding.<key>=`` overrides."""
    from seqlab import conf

    task_file = Path(conf.__file__).parent / "task" / f"{task}.yaml"
    task_decoding = OmegaConf.load(task_file).get("decoding") if task_file.exists() else None
    explicit = [o.lstrip("+") for o in overrides if o.lstrip("+").startswith("decoding.")]
    given = OmegaConf.from_dotlist(explicit).get("decoding", {})
    return OmegaConf.merge(cfg.decoding, task_decoding or {}, given)


def run_config(cfg: DictConfig, ckpt: dict, overrides: Sequence[str] = ()) -> DictConfig:
    """The checkpoint's own config, with this command's data, paths, loader and decoding choices
    on top."""
    from seqlab.config import SCHEMAS, check_schema

    trained = OmegaConf.create(ckpt["seqlab"]["config"])
    trained.paths = cfg.paths
    if cfg.get("data"):
        check_schema("data", OmegaConf.to_container(cfg.data, resolve=True), SCHEMAS["data"])
        trained.data = cfg.data
    if cfg.get("decoding"):  # else the run's own decoding
        trained.decoding = decoding_config(cfg, trained.task.name, list(overrides))
    for key, value in cfg.loader.items():
        if value is not None:
            trained.loader[key] = value
    return trained


def evaluate(cfg: DictConfig) -> dict:
    # Imported here so that `seqlab-eval --help` never loads torch or Lightning (seconds).
    from seqlab.callbacks.host_memory import KeepFreedMemory
    from seqlab.lit.build import build_datamodule, build_module, build_net, instantiate_trainer
    from seqlab.models.utils import count_parameters
    from seqlab.runs.checkpoints import load_checkpoint, load_weights

    end_startup()
    if cfg.split not in ("test", "val"):
        raise SeqlabError(f"config key 'split': {cfg.split!r} is not valid; choose test or val")
    quiet(cfg.extras.ignore_warnings)
    started = time.time()
    ckpt = load_checkpoint(cfg.ckpt_path)
    trained = run_config(cfg, ckpt, HydraConfig.get().overrides.task)
    datamodule = build_datamodule(trained, fixed_tokenizers=ckpt["seqlab"]["tokenizers"])
    datamodule.prepare_data()
    net = build_net(trained.model, datamodule.tokenizers)
    load_weights(net, ckpt, cfg.ckpt_path)
    module = build_module(trained, datamodule.tokenizer_states(), net)
    # seqlab-train's host-memory defaults: evaluation makes the same large logits every batch.
    trainer = instantiate_trainer(cfg.trainer, callbacks=[KeepFreedMemory()])
    run = trainer.test if cfg.split == "test" else trainer.validate
    metrics = run(module, datamodule=datamodule, verbose=False)[0]
    results = {
        "checkpoint": str(cfg.ckpt_path),
        "split": cfg.split,
        "data": trained.data.name,
        "metrics": {k: float(v) for k, v in sorted(metrics.items())},
        "metric_signatures": getattr(module, "metric_signatures", None) or None,
        "decoding": OmegaConf.to_container(trained.decoding, resolve=True)
        if trained.get("decoding") is not None
        else None,
        "parameters": count_parameters(net),
        "wall_time_s": round(time.time() - started, 2),
    }
    folder = RunFolder(HydraConfig.get().runtime.output_dir)
    path = folder.write_results(results)
    for key, value in results["metrics"].items():
        print(f"{key:24s} {value:.4f}")
    print(f"results: {path}")
    return results


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
@user_errors
def _hydra_main(cfg: DictConfig) -> None:
    evaluate(cfg)


main = entry_point(_hydra_main)

if __name__ == "__main__":
    main()
