"""The bad-input catalog: every way a user can hand seqlab a bad input, through the real CLI.

Each test runs the entry point where the user would meet the problem and checks the contract: exit
code 2, exactly one line on stderr (`seqlab: error: ...`) that names the file, line or config key
and says what would fix it, no traceback, and nothing already written lost.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.cli import QUIET, error_line, run_folders, run_in_process
from seqlab.callbacks.exact_resume import AtomicCheckpointIO
from seqlab.errors import SeqlabError
from seqlab.runs.checkpoints import load_checkpoint


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- data files ----------------------------------------------------------------------------------


def test_missing_data_file_names_the_path_the_layout_and_the_url(cli, tmp_path):
    root = tmp_path / "data"
    message = error_line(cli("train", "experiment=shakespeare_gpt", f"paths.data_dir={root}"))
    assert message.startswith(f"data file not found: {root}/tinyshakespeare/input.txt")
    assert f"expected layout: {root}/tinyshakespeare/input.txt" in message
    assert "download: https://raw.githubusercontent.com/karpathy/char-rnn/" in message
    assert "set paths.data_dir" in message
    assert not (root / "tinyshakespeare").exists()  # no half-downloaded file or empty folder


def test_empty_data_file(cli, tmp_path):
    path = write(tmp_path / "data" / "tinyshakespeare" / "input.txt", b"")
    message = error_line(
        cli("train", "experiment=shakespeare_gpt", f"paths.data_dir={path.parents[1]}")
    )
    assert message == f"{path}: file is empty; point the config at the real data file"


def test_invalid_utf8_names_file_and_line_or_is_replaced(cli, tmp_path):
    text = (
        b"First Citizen:\nBefore we proceed any further, hear me speak.\nAll: Sp\xe9ak, speak.\n"
        * 40
    )
    path = write(tmp_path / "data" / "tinyshakespeare" / "input.txt", text)
    args = [
        "experiment=shakespeare_gpt",
        f"paths.data_dir={path.parents[1]}",
        "train=false",
        "test=false",
    ]
    message = error_line(cli("train", *args))
    offset = text.index(b"\xe9")
    assert message == (
        f"{path}:3: invalid UTF-8 (byte offset {offset}); fix the file or set data.errors=replace"
    )
    cli("train", *args, "data.errors=replace", expect=0)


def test_parallel_files_with_different_line_counts(cli, tmp_path):
    root = tmp_path / "data"
    for split, n in (("train", 3), ("val", 2), ("test2016", 2)):
        write(root / "multi30k" / f"{split}.de", "ein Hund\n" * n)
        write(root / "multi30k" / f"{split}.en", "a dog\n" * (n - (split == "train")))
    message = error_line(cli("train", "data=multi30k", f"paths.data_dir={root}"))
    assert message == (
        f"{root}/multi30k/train.de has 3 lines but {root}/multi30k/train.en has 2; parallel files "
        "must be aligned line by line"
    )


@pytest.mark.parametrize(
    "fmt, text, expected",
    [
        ("tsv", "walk\tI_WALK\nrun twice\nlook\tI_LOOK\n",
         ":2: expected at least 2 tab-separated columns, found 1"),
        ("csv", 'walk,I_WALK\n"run, twice,I_RUN\n',
         ":2: invalid CSV (unexpected end of data); check the quoting of this row"),
        ("jsonl", '{"source": "walk", "target": "I_WALK"}\n{"source": "run" "target": 1}\n',
         ":2: invalid JSON (Expecting ',' delimiter at column 18); each line must be one JSON object"),
    ],
    ids=["tsv", "csv", "jsonl"],
)  # fmt: skip
def test_malformed_tsv_csv_jsonl_line(cli, tmp_path, fmt, text, expected):
    path = write(tmp_path / f"pairs.{fmt}", text)
    message = error_line(cli("train", "data=pairs_file", f"data.format={fmt}", f"data.path={path}"))
    assert message == f"{path}{expected}"


@pytest.mark.slow
def test_too_long_examples_are_dropped_or_truncated_and_counted(cli, tmp_path):
    def counts(*args: str) -> dict:
        out = tmp_path / args[-1]
        cli("train", "data.cleaning.max_len=6", "train=false", "test=false", *args, expect=0,
            env={"SEQLAB_LOG_DIR": str(out)})  # fmt: skip
        [run] = run_folders(out)
        return json.loads((run / "results.json").read_text())["data"]

    dropped = counts("data.cleaning.too_long=drop")
    assert dropped["train_dropped_too_long"] > 0 and "train_truncated_too_long" not in dropped
    cut = counts("data.cleaning.too_long=truncate")
    assert cut["train_dropped_too_long"] == 0 and cut["train_truncated_too_long"] > 0
    assert cut["test_truncated_too_long"] > 0 and cut["test_examples"] == dropped["test_examples"]


def test_a_training_split_emptied_by_cleaning_is_one_line(cli):
    message = error_line(cli("train", "data.cleaning.min_len=40"))
    assert message.startswith("the training split is empty after cleaning: all ")
    assert "shorter than data.cleaning.min_len=40 tokens" in message


def test_validating_every_more_batches_than_an_epoch_has_is_one_line(cli):
    message = error_line(cli("train", "trainer.val_check_interval=100000"))
    assert message.startswith("trainer.val_check_interval=100000 is more than the ")
    assert "trainer.check_val_every_n_epoch=null" in message


def test_a_pairs_file_too_small_to_carve_val_and_test_is_one_line(cli, tmp_path):
    pairs = write(tmp_path / "one.tsv", "walk\tI_WALK\n")
    message = error_line(
        cli("train", *QUIET, "data=pairs_file", f"data.path={pairs}", "data.format=tsv")
    )
    assert message == (
        "data.test_fraction=0.05 of the training data (1 examples) leaves the test split empty; "
        "give it its own file (data.splits.test), or use more data or a larger fraction"
    )
    assert not (tmp_path / "outputs").exists() or not run_folders(tmp_path / "outputs")


def test_a_text_shorter_than_the_context_is_one_line(cli, tmp_path):
    path = write(tmp_path / "data" / "tinyshakespeare" / "input.txt", "To be or not to be.\n" * 10)
    message = error_line(
        cli("train", "experiment=shakespeare_gpt", f"paths.data_dir={path.parents[1]}")
    )
    assert message == (
        "the val split has 20 tokens, fewer than one window of task.block_size=64 (+1); "
        "use a longer text or a smaller task.block_size"
    )
    assert not run_folders(tmp_path / "outputs")  # a run refused by its data leaves no folder


# --- configuration -------------------------------------------------------------------------------


def test_unknown_config_key(cli):
    message = error_line(cli("train", "trainer.max_epoch=3"))
    assert message == (
        "unknown config key 'trainer.max_epoch'; check its spelling (--cfg job prints every key), "
        "or add a new key with +trainer.max_epoch=3"
    )
    message = error_line(cli("train", "+trainer.max_epoch=3"))
    assert message.startswith(
        "unknown config key 'trainer.max_epoch' for lightning.pytorch.Trainer"
    )
    assert "max_epochs" in message  # the valid keys are listed


def test_wrong_value_type(cli):
    message = error_line(cli("train", "trainer.max_epochs=abc"))
    assert message == "config key 'trainer.max_epochs': expected a number, got 'abc'"
    message = error_line(cli("train", "loader.batch_size=abc"))
    assert message.startswith("config key 'loader.batch_size': Value 'abc' of type 'str'")


def test_host_memory_threshold_beyond_glibc_limit(cli):
    message = error_line(cli("train", "callbacks.host_memory.mmap_threshold_mb=64"))
    assert message == (
        "config key 'callbacks.host_memory': trim_threshold_mb must be in 0..2047 and "
        "mmap_threshold_mb in 0..32, got 512 and 64"
    )


def test_host_memory_map_large_blocks_not_a_bool(cli):
    message = error_line(cli("train", "callbacks.host_memory.map_large_blocks=sometimes"))
    assert message == (
        "config key 'callbacks.host_memory.map_large_blocks': expected true or false, "
        "got 'sometimes'"
    )


def test_unknown_matmul_precision_names_the_levels(cli):
    message = error_line(cli("train", "callbacks.matmul_precision.cpu_float32=fast"))
    assert message == (
        "config key 'callbacks.matmul_precision.cpu_float32': 'fast' is not a level; "
        "use one of highest, high, medium"
    )


def test_unknown_group_option_lists_the_valid_ones(cli):
    message = error_line(cli("train", "model=transformer"))
    assert message.startswith("unknown option 'transformer' for config group 'model'; valid: ")
    assert "gru_seq2seq" in message and "transformer_seq2seq" in message


def test_incompatible_task_model_and_data(cli):
    message = error_line(cli("train", "task=lm", "model=gpt"))
    assert message.startswith("task 'lm' (lm) needs text data, but dataset 'scan' gives pairs;")


# --- checkpoints ---------------------------------------------------------------------------------


def test_resume_with_another_tokenizer_or_architecture(cli, scan_run, tmp_path):
    copy = shutil.copytree(scan_run, tmp_path / "run")  # the fixture run stays as it was
    message = error_line(cli("train", f"resume={copy}", "tokenizer.kind=char"))
    assert message.startswith(
        f"resume={copy}: tokenizer.kind was 'word' when the run started, this command asks for 'char'"
    )
    message = error_line(cli("train", f"resume={copy}", "model.net.hidden_size=96"))
    assert message.startswith(f"resume={copy}: model.net.hidden_size was ")
    assert "drop the override, or fine-tune in a new run with ckpt_path=" in message


def folder_state(run: Path) -> dict[str, bytes]:
    """Every file of a run folder with its bytes."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_resume_on_changed_data_is_refused_and_writes_nothing(cli, tmp_path):
    lines = [f"walk {i % 7} twice\tI_WALK {i % 5}" for i in range(80)]
    pairs = write(tmp_path / "pairs.tsv", "\n".join(lines) + "\n")
    data = ["data=pairs_file", f"data.path={pairs}", "data.format=tsv"]
    cli("train", *QUIET, *data, "test=false", expect=0)
    [run] = run_folders(tmp_path / "outputs")
    before = folder_state(run)
    (a, x), (b, y) = lines[10].split("\t"), lines[11].split("\t")
    lines[10], lines[11] = f"{a}\t{y}", f"{b}\t{x}"  # targets swapped: same words, other pairs
    swapped = "\n".join(lines) + "\n"
    pairs.write_text(swapped)
    message = error_line(cli("train", f"resume={run}", "trainer.max_epochs=2"))
    assert message.startswith(f"resume={run}: the data changed since the run started (")
    assert message.endswith("or continue on the changed data with resume_data_changed=allow")
    assert folder_state(run) == before  # nothing rewritten by the refused command
    pairs.write_text(swapped.replace("I_WALK 0", "I_RUN 0"))  # a new word: another vocabulary
    message = error_line(cli("train", f"resume={run}", "trainer.max_epochs=2"))
    assert "the data now gives a different vocabulary than when the run started" in message
    assert folder_state(run) == before
    pairs.write_text(swapped)
    proc = cli("train", f"resume={run}", "trainer.max_epochs=2", "resume_data_changed=allow",
               expect=0)  # fmt: skip
    assert "continuing on the new data (resume_data_changed=allow)" in proc.stdout
    assert "trainer.max_epochs=2" in (run / "overrides.txt").read_text()


def test_finetune_with_another_tokenizer_or_architecture(cli, scan_run):
    ckpt = scan_run / "checkpoints" / "last.ckpt"
    message = error_line(cli("train", *QUIET, f"ckpt_path={ckpt}", "tokenizer=char"))
    assert message == (
        f"{ckpt} was trained with tokenizer.kind=word, this run asks for char; set tokenizer=word "
        "to fine-tune it"
    )
    message = error_line(cli("train", *QUIET[1:], f"ckpt_path={ckpt}", "size=small"))
    assert message.startswith(f"{ckpt} holds weights of a different architecture or size")


def test_ckpt_path_that_does_not_exist(cli, tmp_path):
    missing = tmp_path / "nowhere" / "best.ckpt"
    for module in ("train", "evaluate"):  # seqlab-generate: tests/test_cli_generate.py
        message = error_line(cli(module, f"ckpt_path={missing}"))
        assert (
            message
            == f"checkpoint not found: {missing}; pass ckpt_path=<run>/checkpoints/best.ckpt"
        )


def test_truncated_or_corrupt_checkpoint_names_the_file(cli, scan_run, tmp_path):
    run = shutil.copytree(scan_run, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(
        last.read_bytes()[: last.stat().st_size // 2]
    )  # as a crash mid-write leaves it
    expected = f"checkpoint {last} is truncated or corrupt (not a complete torch.save archive);"
    assert error_line(cli("evaluate", f"ckpt_path={last}")).startswith(expected)
    assert error_line(cli("train", f"resume={run}")).startswith(expected)
    garbage = write(tmp_path / "garbage.ckpt", os.urandom(4096))
    with pytest.raises(SeqlabError, match=f"checkpoint {garbage} is truncated or corrupt"):
        AtomicCheckpointIO().load_checkpoint(garbage)  # how Lightning reads (resume, test)


class _RunsCode:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(cli, scan_run, tmp_path):
    ckpt = torch.load(scan_run / "checkpoints" / "last.ckpt", weights_only=True)
    marker = tmp_path / "code-ran"
    ckpt["seqlab"]["note"] = _RunsCode(str(marker))
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    expected = (
        f"refusing to load {evil}: it is not a plain-weights checkpoint and loading it could run "
        "code (Trying to load unsupported GLOBAL posix.system whose module posix is blocked.)"
    )
    assert error_line(cli("generate", f"ckpt_path={evil}", "prompt=walk")) == expected
    for load in (
        load_checkpoint,
        AtomicCheckpointIO().load_checkpoint,
    ):  # eval / fine-tune, Lightning
        with pytest.raises(SeqlabError) as e:
            load(evil)
        assert str(e.value) == expected
    assert not marker.exists()


def test_generation_prompt_longer_than_the_context(cli, lm_ckpt):
    prompt = "prompt=" + "To be or not to be " * 5  # 95 characters, block_size is 64
    message = error_line(cli("generate", f"ckpt_path={lm_ckpt}", prompt, "prompt_overflow=error"))
    assert message.startswith("input 1 has ") and message.endswith(
        " tokens, more than the model's context (block_size=64); shorten it or set "
        "prompt_overflow=truncate"
    )


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(cli):
    proc = cli("train", *QUIET, "trainer.limit_train_batches=20", "optimizer.lr=1e30",
               "scheduler=constant", "trainer.log_every_n_steps=1",
               "+callbacks.model_checkpoint.every_n_train_steps=1",
               "callbacks.model_checkpoint.monitor=null", "test=false")  # fmt: skip
    message = error_line(proc)  # the loss, or first the weights of a step, became NaN/inf
    assert (
        message.startswith("training loss is ")
        and "stopped before this update, last good checkpoint: " in message
    ) or (
        message.startswith("weight net.")
        and "this checkpoint was not saved, last good checkpoint: " in message
    )
    assert message.endswith("; lower optimizer.lr or lengthen scheduler.warmup_steps")
    step = int(message.split(" at step ")[1].split()[0].rstrip(";"))
    last = Path(message.split("last good checkpoint: ")[1].split(";")[0])
    ckpt = torch.load(last, weights_only=True)
    assert 0 < ckpt["global_step"] <= step
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())
    assert (last.parents[1] / "metrics.csv").is_file()  # what was logged is kept


# --- the data cache ------------------------------------------------------------------------------


def test_cache_dir_not_writable(cli, tmp_path):
    blocker = write(tmp_path / "a-file", "not a folder")
    message = error_line(
        cli("train", "size=tiny", env={"SEQLAB_CACHE_DIR": str(blocker / "cache")})
    )
    assert message == (
        f"cannot write the data cache in {blocker}/cache (Not a directory); set paths.cache_dir to a "
        "writable folder"
    )


def test_a_run_folder_that_cannot_be_created_is_one_line(cli, tmp_path):
    blocker = write(tmp_path / "a-file", "not a folder")
    message = error_line(cli("train", *QUIET, f"paths.log_dir={blocker / 'outputs'}"))
    assert message.startswith(f"cannot write {blocker / 'outputs'}/runs/")
    assert message.endswith(": Not a directory; set paths.log_dir to a writable folder with free "
                            "space (SEQLAB_DEBUG=1 shows where it happened)")  # fmt: skip


def small_files(limit: int):
    """preexec_fn: files over `limit` bytes fail to write (EFBIG, as a full disk fails)."""

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_during_a_checkpoint_save_is_one_line(workdir, tmp_path):
    """The data cache is built first; then files over 256 KiB fail: the run folder's logs fit,
    the first checkpoint (2.7 MB) does not."""
    _, env = workdir
    env = {**env, "SEQLAB_LOG_DIR": str(tmp_path / "outputs")}
    warm = {**env, "SEQLAB_LOG_DIR": str(tmp_path / "warm-up")}
    run_in_process("train", *QUIET, "train=false", "test=false", cwd=tmp_path, env=warm)
    args = [sys.executable, "-m", "seqlab.train", *QUIET, "trainer.log_every_n_steps=1"]
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          preexec_fn=small_files(2**18), timeout=600)  # fmt: skip
    message = error_line(proc)
    assert proc.returncode == 2
    assert message.startswith("writing checkpoint ") and "failed (File too large); no " in message
    assert message.endswith("checkpoint exists yet: free disk space or make the run folder "
                            "writable, then start the run again")  # fmt: skip
    [run] = run_folders(tmp_path / "outputs")
    assert not list((run / "checkpoints").glob("*")), "a partial checkpoint was left behind"


def test_a_failed_checkpoint_save_keeps_and_names_the_previous_one(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(10)}, path)
    before = path.read_bytes()
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**16, limit[1]))
    try:
        with pytest.raises(SeqlabError) as e:
            AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(2**16)}, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    assert str(e.value).startswith(
        f"writing checkpoint {path} failed (File too large); {path} still holds the previous one:"
    ) and str(e.value).endswith(f"then continue with resume={tmp_path}")
    assert path.read_bytes() == before and len(list(path.parent.iterdir())) == 1


def test_disk_full_while_writing_the_cache_leaves_nothing_to_trust(workdir, tmp_path):
    """Files over 1 MiB fail to write (EFBIG, as a full disk fails with ENOSPC) in a real run: the
    run folder's files fit, Tiny Shakespeare's token ids (2 MB) do not."""
    _, env = workdir
    cache = tmp_path / "cache"
    env = {**env, "SEQLAB_CACHE_DIR": str(cache), "SEQLAB_LOG_DIR": str(tmp_path / "outputs")}
    args = [sys.executable, "-m", "seqlab.train", "experiment=shakespeare_gpt", "train=false",
            "test=false"]  # fmt: skip

    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          preexec_fn=small_files(2**20), timeout=600)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    message = error_line(proc)
    assert message.startswith(f"writing the data cache in {cache} failed (")
    assert message.endswith("); free disk space or set paths.cache_dir elsewhere")
    assert list(cache.iterdir()) == []  # no entry and no temporary folder: nothing to trust later


@pytest.mark.parametrize("command", ["evaluate", "generate", "export"])
def test_a_required_key_left_out_is_one_line(cli, tmp_path, command):
    proc = cli(command)
    assert error_line(proc) == (
        "config key 'ckpt_path' is required: pass ckpt_path=... (--help lists the keys)"
    )
    outputs = tmp_path / "outputs"
    assert not outputs.exists() or not [p for p in outputs.rglob("*") if p.is_file()]
