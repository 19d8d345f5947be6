"""seqlab-eval with another decoding strategy than the run's (`decoding=beam`)."""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from helpers.cli import QUICK, run_folders
from seqlab.evaluate import decoding_config


def _scored(tmp_path) -> dict:
    [results] = (tmp_path / "outputs" / "runs" / "eval").glob("*/results.json")
    return json.loads(results.read_text())


def test_eval_decodes_with_the_strategy_it_is_given(run_cli, tmp_path) -> None:
    run_cli("train", *QUICK)
    [run] = run_folders(tmp_path / "outputs")
    ckpt = run / "checkpoints" / "last.ckpt"

    # Before, `decoding=beam` was refused and the `+decoding=beam` Hydra suggested was ignored:
    # the scores were the run's greedy ones.
    run_cli("evaluate", f"ckpt_path={ckpt}", "decoding=beam", "decoding.beam_size=2",
            "trainer.limit_test_batches=1")  # fmt: skip
    decoding = _scored(tmp_path)["decoding"]
    assert decoding["strategy"] == "beam" and decoding["beam_size"] == 2


def test_eval_keeps_the_runs_decoding_when_none_is_given(run_cli, tmp_path) -> None:
    run_cli("train", *QUICK, "decoding.max_len_a=7")
    [run] = run_folders(tmp_path / "outputs")
    run_cli("evaluate", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
            "trainer.limit_test_batches=1")  # fmt: skip
    decoding = _scored(tmp_path)["decoding"]
    assert decoding["strategy"] == "greedy" and decoding["max_len_a"] == 7


def test_a_strategy_takes_the_tasks_length_rule_and_the_commands_overrides() -> None:
    """As `seqlab-train task=qa decoding=beam` composes it: the task's answer length wins over the
    strategy file's, a `decoding.<key>=` on the command line over both."""
    beam = OmegaConf.create({"decoding": {"strategy": "beam", "max_len_a": 50, "max_len_b": 2.0,
                                          "beam_size": 5}})  # fmt: skip
    composed = decoding_config(beam, "qa", ["decoding=beam"])
    assert (composed.strategy, composed.max_len_a, composed.max_len_b) == ("beam", 16, 0.0)
    given = decoding_config(beam, "qa", ["decoding=beam", "decoding.max_len_a=3"])
    assert given.max_len_a == 3 and given.beam_size == 5
    assert decoding_config(beam, "my_task", []).max_len_a == 50  # no such task file: the strategy's
