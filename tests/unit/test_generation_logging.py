"""SampleLogger: decoded validation rows reach samples.csv, TensorBoard text and a wandb Table."""

from __future__ import annotations

import csv
from types import SimpleNamespace
from unittest import mock

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from seqlab.callbacks.samples import SampleLogger

ROWS = [
    {"source": f"jump {i}", "reference": "I_JUMP", "hypothesis": "I_JUMP | I_RUN"} for i in range(7)
]


def trainer(loggers, step: int = 10, sanity: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        sanity_checking=sanity,
        is_global_zero=True,
        global_step=step,
        current_epoch=1,
        loggers=loggers,
    )


def test_rows_go_to_every_active_logger(tmp_path) -> None:
    tensorboard = mock.create_autospec(TensorBoardLogger, instance=True)
    wandb = mock.create_autospec(WandbLogger, instance=True)
    callback = SampleLogger(str(tmp_path / "run" / "samples.csv"), rows=3)
    module = SimpleNamespace(samples=ROWS, max_samples=5)
    callback.setup(None, module, "fit")
    assert module.max_samples == 5  # never lowered; raised when rows > 5
    for step in (10, 20):
        callback.on_validation_epoch_end(
            trainer([CSVLogger(tmp_path), tensorboard, wandb], step), module
        )

    with open(tmp_path / "run" / "samples.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["10"] * 3 + ["20"] * 3
    assert rows[0] == {"step": "10", "epoch": "1", **ROWS[0]}

    name, text = tensorboard.experiment.add_text.call_args.args
    assert name == "val/samples" and tensorboard.experiment.add_text.call_args.kwargs == {
        "global_step": 20
    }
    assert "| source | reference | hypothesis |" in text and "I_JUMP \\| I_RUN" in text
    table = wandb.log_table.call_args.kwargs
    assert table["key"] == "val/samples" and table["step"] == 20
    assert table["columns"] == ["step", "epoch", "source", "reference", "hypothesis"]
    assert table["data"][0] == [20, 1, "jump 0", "I_JUMP", "I_JUMP | I_RUN"]


def test_nothing_is_logged_in_sanity_checks_or_without_samples(tmp_path) -> None:
    path = tmp_path / "samples.csv"
    callback = SampleLogger(str(path))
    callback.on_validation_epoch_end(trainer([], sanity=True), SimpleNamespace(samples=ROWS))
    callback.on_validation_epoch_end(trainer([]), SimpleNamespace())  # e.g. a language model
    assert not path.exists()
