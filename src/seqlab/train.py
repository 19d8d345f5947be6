"""seqlab-train: compose a config, validate it, build data + model + trainer, fit, test, report."""

from __future__ import annotations

import time

import hydra
from omegaconf import DictConfig, OmegaConf

from seqlab.cli import end_startup, entry_point, held_run_log, quiet, user_errors
from seqlab.runs.folder import RunFolder, finish_loggers
from seqlab.runs.resume import resume_args


def train(cfg: DictConfig) -> float | None:
    """Run one training job; returns the configured `optimized_metric` (for sweepers)."""
    # Imported here so that `seqlab-train --help` never loads torch or Lightning (seconds).
    import lightning as L
    from hydra.core.hydra_config import HydraConfig
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from seqlab.config import validate
    from seqlab.lit.build import (
        build_datamodule,
        build_module,
        build_net,
        build_trainer,
        prepare_training,
    )
    from seqlab.lit.fit_errors import val_interval_in_batches
    from seqlab.lit.loggers import final_metric_names, final_scores, log_final, log_run_config
    from seqlab.models.utils import count_parameters
    from seqlab.planning.format import format_line
    from seqlab.planning.plan import make_plan
    from seqlab.runs.checkpoints import load_weights
    from seqlab.runs.hf import apply_hf_pretrained
    from seqlab.runs.model_card import write_model_card
    from seqlab.runs.pretrained import apply_init_from
    from seqlab.runs.results import collect_results, optimized_value, print_summary
    from seqlab.runs.resume import (
        check_same_data,
        check_same_tokenizers,
        previous_run,
        starting_checkpoint,
    )
    from seqlab.runs.sweeps import job_command, relaunch_job_not_sweep, typed_command

    end_startup()
    validate(cfg)
    # Before provenance: config.yaml records the pre-trained architecture.
    pretrained = apply_init_from(cfg) or apply_hf_pretrained(cfg)
    quiet(cfg.extras.ignore_warnings)
    if cfg.extras.print_config:
        print(OmegaConf.to_yaml(cfg, resolve=True))
    started = time.time()
    run = RunFolder(cfg.paths.output_dir)
    overrides = list(HydraConfig.get().overrides.task)
    done, resume = previous_run(cfg, run.path, overrides)
    if done is not None:
        return optimized_value(done, cfg.optimized_metric)

    def write_provenance() -> None:
        if rank_zero_only.rank == 0:
            run.write_provenance(
                cfg, overrides, job_command(), resumed=bool(resume), typed=typed_command()
            )

    if not resume:  # a new run's folder says what it is even if preparing the data fails
        write_provenance()
    with held_run_log(run.path, hold=bool(resume)):
        start, ckpt = starting_checkpoint(cfg, resume)
        fixed = ckpt["seqlab"]["tokenizers"] if ckpt and not resume else None  # fine-tuning
        if pretrained and "tokenizers" in pretrained:  # the pre-trained vocabulary, on a resume too
            fixed = pretrained["tokenizers"]
        datamodule = build_datamodule(cfg, fixed)
        datamodule.prepare_data()
        if resume:
            check_same_tokenizers(ckpt, datamodule.tokenizer_states(), resume)
            policy = cfg.get("resume_data_changed", "refuse")  # absent from older runs' config
            check_same_data(ckpt, datamodule.data_fingerprint, resume, policy)
    if resume:  # only now that it goes ahead: a refused resume leaves the folder as it was
        write_provenance()
    plan = None
    if rank_zero_only.rank == 0:  # the data is cached now: exact lengths and vocabulary
        plan = make_plan(cfg, fixed)
        print(format_line(plan), flush=True)
    # Seeded here, not earlier: the initial weights must not depend on what data preparation or
    # planning drew from the generators (e.g. a first-time FLOP/s measurement).
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    net = build_net(cfg.model, datamodule.tokenizers)
    if ckpt:
        load_weights(net, ckpt, start)
    elif pretrained:
        pretrained["load"](net)
    prepare_training(net, cfg.model, verbose=rank_zero_only.rank == 0)
    module = build_module(cfg, datamodule.tokenizer_states(), net, run.run_id)
    module.data_fingerprint = datamodule.data_fingerprint
    if rank_zero_only.rank == 0:
        run.write_tokenizers(datamodule.tokenizer_states())
    trainer = build_trainer(cfg)
    scores = final_metric_names(cfg.task.monitor)
    if rank_zero_only.rank == 0:
        log_run_config(trainer.loggers, run.dashboard_params(module.run_config), scores)
    relaunch_job_not_sweep()
    metrics = {}
    if cfg.train:
        with val_interval_in_batches():
            trainer.fit(module, datamodule=datamodule, ckpt_path=start if resume else None)
        metrics.update(trainer.callback_metrics)  # testing replaces callback_metrics: keep val/…
    if cfg.test:
        best = trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path
        metrics.update(
            trainer.test(module, datamodule=datamodule, ckpt_path="best" if best else None)[0]
        )

    results = collect_results(
        trainer, metrics, run.run_id, run.path, count_parameters(net), started, datamodule.counts
    )
    if trainer.is_global_zero:
        results["plan"] = plan
        if getattr(module, "metric_signatures", None):  # sacreBLEU's: how BLEU/chrF were computed
            results["metric_signatures"] = module.metric_signatures
        run.write_results(results)
        write_model_card(run.path, module.run_config, results)
        log_final(trainer.loggers, final_scores(results, scores), trainer.global_step, run.path)
        print_summary(results, getattr(module, "samples", None))
    finish_loggers()
    return optimized_value(results, cfg.optimized_metric)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@user_errors
def _hydra_main(cfg: DictConfig) -> float | None:
    return train(cfg)


main = entry_point(_hydra_main, rewrite=resume_args)

if __name__ == "__main__":
    main()
