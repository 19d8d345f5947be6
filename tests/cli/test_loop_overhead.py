"""Lightning's per-hook bookkeeping made cheap without changing what the Trainer does."""

import lightning as L
import pytest
import torch
from lightning.pytorch.profilers import PassThroughProfiler, SimpleProfiler
from omegaconf import OmegaConf

from helpers.cli import QUICK
from seqlab.lit.base import SeqlabModule
from seqlab.lit.build import instantiate_trainer
from seqlab.lit.profiler import NoProfiler

TRAINER = {"_target_": "lightning.pytorch.Trainer", "accelerator": "cpu", "logger": False,
           "enable_checkpointing": False, "enable_progress_bar": False}  # fmt: skip


def test_no_profiler_is_a_pass_through_profiler_that_enters_nothing():
    profiler = NoProfiler()
    assert isinstance(profiler, PassThroughProfiler)
    with profiler.profile("[Callback]x.on_train_batch_end") as entered:
        assert entered is None
    assert profiler.profile("a") is profiler.profile("b")  # one shared context, nothing made


@pytest.mark.parametrize(("setting", "expected"), [(None, NoProfiler), ("simple", SimpleProfiler)])
def test_the_trainer_gets_no_profiler_only_when_none_is_configured(setting, expected):
    trainer = instantiate_trainer(OmegaConf.create({**TRAINER, "profiler": setting}))
    assert type(trainer.profiler) is expected


def test_hook_name_bookkeeping_skips_module_registration_and_nothing_else(monkeypatch):
    module = SeqlabModule(torch.nn.Linear(2, 2), optimizer=torch.optim.SGD)
    registered = []
    module_setattr = torch.nn.Module.__setattr__

    def counting(self, name, value):
        registered.append(name)
        module_setattr(self, name, value)

    monkeypatch.setattr(torch.nn.Module, "__setattr__", counting)
    module._current_fx_name = "training_step"
    assert module._current_fx_name == "training_step" and registered == []
    module.extra = torch.nn.Linear(2, 3)  # any other attribute still goes through nn.Module
    module.scale = torch.nn.Parameter(torch.ones(1))
    assert {"extra.weight", "scale"} <= set(dict(module.named_parameters()))
    assert "_current_fx_name" not in module.state_dict()


def test_a_configured_profiler_still_reports(run_cli):
    proc = run_cli("train", *QUICK, "debug=profile", "trainer.limit_train_batches=4", "test=false")
    assert "FIT Profiler Report" in proc.stdout + proc.stderr
    assert "run_training_batch" in proc.stdout + proc.stderr


def test_benchmarks_build_the_run_trainer_minus_named_callbacks_plus_their_own(tmp_path):
    from hydra import compose, initialize_config_module
    from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar

    from seqlab.callbacks.throughput import Throughput
    from seqlab.lit.build import build_trainer

    marker = L.Callback()
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose("train", [f"paths.output_dir={tmp_path}", f"paths.log_dir={tmp_path}"])
    full = build_trainer(cfg)
    trimmed = build_trainer(cfg, extra_callbacks=(marker,), without=("model_checkpoint",),
                            enable_checkpointing=False, enable_progress_bar=False, max_steps=3)  # fmt: skip
    assert any(isinstance(c, ModelCheckpoint) for c in full.callbacks)
    assert any(isinstance(c, TQDMProgressBar) for c in full.callbacks)
    assert not any(isinstance(c, (ModelCheckpoint, TQDMProgressBar)) for c in trimmed.callbacks)
    assert marker in trimmed.callbacks and any(isinstance(c, Throughput) for c in trimmed.callbacks)
    assert trimmed.max_steps == 3 and type(trimmed.profiler) is NoProfiler
