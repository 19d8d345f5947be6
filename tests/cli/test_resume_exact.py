"""Exact resume: a run killed mid-epoch (SIGTERM, SIGKILL, or inside a checkpoint write) and resumed
with `resume=<run folder>` ends with the weights and metrics of an uninterrupted run, bit for bit on
CPU. Unit tests of the pieces first (fast), then the real CLI with real signals (slow)."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers.cli import cli_env, run_entry, run_folders
from helpers.resume import assert_same_run, last_state
from seqlab.callbacks.exact_resume import AtomicCheckpointIO, ExactResume, seed_step
from seqlab.data.batching import BucketBatchSampler, RandomWindows
from seqlab.errors import SeqlabError

# --- the pieces ----------------------------------------------------------------------------------


def test_position_is_the_next_batch_to_train():
    cb = ExactResume(seed=1)
    cb.on_train_epoch_start(SimpleNamespace(current_epoch=2), None)
    cb.batches = 5
    assert cb.state_dict() == {"epoch": 2, "skip": 5}
    cb.epoch_done = True  # the epoch's last batch is done: the next pass is a new epoch
    assert cb.state_dict() == {"epoch": 3, "skip": 0}
    datamodule = SimpleNamespace(train_start=(0, 0))
    cb._trainer = SimpleNamespace(datamodule=datamodule)
    cb.load_state_dict({"epoch": 4, "skip": 7})
    assert datamodule.train_start == (4, 7) and cb.state_dict() == {"epoch": 4, "skip": 7}


def test_samplers_started_mid_epoch_give_the_rest_of_that_epoch_then_the_next():
    rng = np.random.default_rng(0)
    lens = rng.integers(1, 20, 200)
    whole = BucketBatchSampler(lens, lens, None, 8, shuffle=True, seed=3)
    epoch0, epoch1 = list(whole), list(whole)
    resumed = BucketBatchSampler(lens, lens, None, 8, shuffle=True, seed=3)
    resumed.epoch, resumed.skip = 0, 5
    assert list(resumed) == epoch0[5:] and list(resumed) == epoch1

    ids = np.arange(5000, dtype=np.int32)
    windows = RandomWindows(ids, block_size=16, batch_size=4, seed=3)
    first, second = [x for x, _ in windows], [x for x, _ in windows]
    again = RandomWindows(ids, block_size=16, batch_size=4, seed=3)
    again.epoch, again.skip = 0, 10
    cut_short = iter(again)
    assert torch.equal(next(cut_short)[0], first[10])  # a pass cut short (limit_train_batches)...
    rest = [x for x, _ in again]  # ...does not skip again in the next pass
    assert len(rest) == len(second) and all(map(torch.equal, rest, second))


def test_training_randomness_is_a_function_of_the_position():
    seed_step(7, epoch=1, batch=3)
    a = (torch.rand(3), np.random.rand(), __import__("random").random())
    torch.rand(10)  # anything in between (validation, a data loader starting) ...
    seed_step(7, epoch=1, batch=3)
    b = (torch.rand(3), np.random.rand(), __import__("random").random())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]  # ... does not change a step's draws
    seed_step(7, epoch=1, batch=4)
    assert not torch.equal(torch.rand(3), a[0])


def test_a_failed_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(3)}, path)
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(SeqlabError, match=r"writing checkpoint .*last.ckpt failed \(No space left"):
        io.save_checkpoint({"global_step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path, weights_only=True)["global_step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


# --- the real CLI, real signals ------------------------------------------------------------------

# 6 batches an epoch, 3 epochs; validation at each epoch end; last.ckpt every 3 steps once the
# monitored val/loss exists (Lightning defers earlier ones): steps 9, 12, 15, 18.
# The best checkpoint by validation loss: a tiny model's exact match stays 0.0 in every epoch, and
# which of several tied checkpoints is "best" is not what these tests are about.
QUICK = ["size=tiny", "loader.batch_size=8", "trainer.max_epochs=3", "trainer.limit_train_batches=6",
         "trainer.limit_val_batches=2", "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1",
         "+callbacks.model_checkpoint.every_n_train_steps=3", "task.monitor=val/loss"]  # fmt: skip
STEPS = 18  # 3 epochs of 6 batches


def chaos(name: str, target: str, **params) -> list[str]:
    """Overrides adding a test-only callback from tests/helpers/chaos.py."""
    args = [f"+callbacks.{name}._target_=helpers.chaos.{target}"]
    return args + [f"+callbacks.{name}.{k}={v}" for k, v in params.items()]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_root, cache_dir):
    tmp = tmp_path_factory.mktemp("resume")
    env = cli_env(data_root, cache_dir, tmp / "outputs", test_callbacks=True)
    env["OMP_NUM_THREADS"] = "1"
    return tmp, env


def train(workdir, name: str, *args: str, expect: int = 0) -> Path:
    """Run seqlab-train with its outputs under `name`; returns the run folder."""
    tmp, env = workdir
    env = dict(env, SEQLAB_LOG_DIR=str(tmp / name))
    run_entry("train", *args, cwd=tmp, env=env, expect=expect)
    [run] = run_folders(tmp / name)
    return run


@pytest.fixture(scope="module")
def reference(workdir) -> Path:
    return train(workdir, "reference", *QUICK)


@pytest.mark.slow
def test_sigterm_mid_epoch_saves_and_resume_equals_the_uninterrupted_run(workdir, reference):
    # Step 8 is batch 2 of epoch 1: mid-epoch, and not a step with a periodic checkpoint.
    tmp, env = workdir
    env = dict(env, SEQLAB_LOG_DIR=str(tmp / "sigterm"))
    proc = run_entry("train", *QUICK, *chaos("kill", "SignalAtStep", step=8), cwd=tmp, env=env,
                     expect=143)  # fmt: skip
    [run] = run_folders(tmp / "sigterm")
    assert f"stopped by SIGTERM after step 8; saved {run}/checkpoints/last.ckpt" in proc.stderr
    assert last_state(run)["global_step"] == 8 and not (run / "results.json").exists()
    train(workdir, "sigterm", f"resume={run}", "~callbacks.kill")
    assert_same_run(run, reference, STEPS)


@pytest.mark.slow
def test_ctrl_c_mid_epoch_saves_like_sigterm_and_resume_equals_the_uninterrupted_run(
    workdir, reference
):
    tmp, env = workdir
    env = dict(env, SEQLAB_LOG_DIR=str(tmp / "sigint"))
    proc = run_entry("train", *QUICK, *chaos("kill", "SignalAtStep", step=8, signal_name="SIGINT"),
                     cwd=tmp, env=env, expect=130)  # fmt: skip
    [run] = run_folders(tmp / "sigint")
    assert f"stopped by Ctrl-C after step 8; saved {run}/checkpoints/last.ckpt" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert last_state(run)["global_step"] == 8 and not (run / "results.json").exists()
    train(workdir, "sigint", f"resume={run}", "~callbacks.kill")
    assert_same_run(run, reference, STEPS)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_the_uninterrupted_run(workdir, reference):
    # Killed after step 10 (epoch 1, batch 4); last.ckpt is from step 9, mid-epoch too.
    run = train(workdir, "sigkill", *QUICK, *chaos("kill", "SignalAtStep", step=10,
                signal_name="SIGKILL"), expect=-signal.SIGKILL)  # fmt: skip
    assert last_state(run)["global_step"] == 9
    train(workdir, "sigkill", f"resume={run}", "~callbacks.kill")
    assert_same_run(run, reference, STEPS)


@pytest.mark.slow
def test_kill_during_a_checkpoint_write_keeps_the_previous_last_ckpt(workdir, reference):
    tmp, env = workdir
    marker = tmp / "in-save"
    args = [*QUICK, *chaos("hang", "HangInSave", step=12, marker=marker)]
    env = dict(env, SEQLAB_LOG_DIR=str(tmp / "in_save"))
    proc = subprocess.Popen([sys.executable, "-m", "seqlab.train", *args], cwd=tmp, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "timed out"
        proc.send_signal(signal.SIGKILL)  # half of the step-12 checkpoint is on disk
    finally:
        proc.kill()
        proc.wait()
    [run] = run_folders(tmp / "in_save")
    partial = Path(marker.read_text())
    assert partial.parent == run / "checkpoints" and partial.name.startswith(".last.ckpt.")
    assert last_state(run)["global_step"] == 9  # the previous checkpoint, whole
    train(workdir, "in_save", f"resume={run}", "~callbacks.hang")
    assert not partial.exists()  # cleared by the next save
    assert_same_run(run, reference, STEPS)
