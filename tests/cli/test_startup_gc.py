"""The garbage collector stays off while a command starts up, then runs with start-up frozen."""

import gc
import json
import sys

import pytest

import seqlab.cli as cli
from helpers.cli import QUICK, cli_env, run_entry
from seqlab.errors import SeqlabError


@pytest.fixture
def new_process(monkeypatch):
    """entry_point as a new process meets it: start-up not over yet; freezes recorded, not made."""
    freezes = []
    monkeypatch.setattr(cli, "_startup_over", False)
    monkeypatch.setattr(cli, "_collector_held", False)
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1))
    monkeypatch.setattr(sys, "argv", ["seqlab-train", "--help"])  # no group check: no torch
    yield freezes
    gc.enable()


def test_the_collector_is_off_until_the_job_ends_start_up_and_freezes_once(new_process):
    seen = []

    def job():
        seen.append(gc.isenabled())
        cli.end_startup()
        seen.append(gc.isenabled())
        cli.end_startup()  # a later job of the same sweep

    cli.entry_point(job)()
    assert seen == [False, True]
    assert new_process == [1]
    assert gc.isenabled()


def test_a_job_that_fails_before_its_imports_turns_it_back_on_without_freezing(new_process):
    @cli.user_errors
    def task(cfg):
        assert not gc.isenabled()
        raise SeqlabError("config key 'split': 'train' is not valid; choose test or val")

    with pytest.raises(SystemExit) as exit_info:
        cli.entry_point(lambda: task(None))()
    assert exit_info.value.code == 2
    assert gc.isenabled() and new_process == []


def test_a_later_command_in_the_same_process_keeps_the_collector_on(new_process):
    cli.entry_point(cli.end_startup)()
    seen = []
    cli.entry_point(lambda: seen.append(gc.isenabled()))()
    assert seen == [True] and new_process == [1]


def test_a_job_called_from_python_leaves_the_collector_and_the_heap_alone(new_process):
    cli.end_startup()  # what train(cfg) does when a notebook calls it, not seqlab-train
    assert gc.isenabled() and new_process == []
    gc.disable()
    cli.end_startup()  # nor does it turn on a collector the caller turned off
    assert not gc.isenabled() and new_process == []


def test_training_starts_with_start_up_frozen_and_no_full_collection(
    data_root, cache_dir, tmp_path
):
    env = cli_env(data_root, cache_dir, tmp_path / "outputs", test_callbacks=True)
    probe = tmp_path / "gc.json"
    args = ["+callbacks.gc_probe._target_=helpers.probes.GarbageCollectorProbe",
            f"+callbacks.gc_probe.path={probe}", "test=false"]  # fmt: skip
    run_entry("train", *QUICK, *args, cwd=tmp_path, env=env)
    state = json.loads(probe.read_text())
    assert state["enabled"]
    assert state["frozen"] > 100_000  # torch, Lightning, Hydra and the config: ~700k objects
    # With the collector on from the first import: 6-7 full collections by now, ~1 s.
    assert state["full_collections"] <= 1
