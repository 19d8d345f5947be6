"""model=hf_causal_lm as a user runs it: a tiny GPT-2 folder saved offline (as a hub download
would be), trained a few steps with its own tokenizer, then generating from the checkpoint alone."""

from __future__ import annotations

import json

import pytest
import torch

from helpers.cli import cli_env, error_line, run_folders, run_in_process
from helpers.resume import KILLED_AT_4_OF_6, assert_sigterm_resume_is_exact
from seqlab.runs.checkpoints import load_checkpoint

pytest.importorskip("transformers")

from helpers.hf import save_tiny_gpt2, shakespeare_lines  # noqa: E402

HF_LM = ["task=lm", "data=tinyshakespeare", "model=hf_causal_lm", "tokenizer=pretrained"]
SHORT = ["task.block_size=32", "loader.batch_size=8", "trainer.max_steps=4",
         "trainer.val_check_interval=4", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip


@pytest.fixture(scope="module")
def gpt2_folder(workdir, data_root):
    tmp, _ = workdir
    return save_tiny_gpt2(tmp / "tiny-gpt2", shakespeare_lines(data_root))


@pytest.fixture(scope="module")
def hf_run(workdir, gpt2_folder):
    tmp, env = workdir
    run_in_process("train", *HF_LM, f"model.pretrained={gpt2_folder}", *SHORT, cwd=tmp,
                   env=dict(env, SEQLAB_LOG_DIR=str(tmp / "hf")))  # fmt: skip
    [run] = run_folders(tmp / "hf")
    return run


def test_a_pretrained_folder_trains_and_its_checkpoint_holds_plain_config(hf_run):
    results = json.loads((hf_run / "results.json").read_text())
    assert results["metrics"]["test/loss"] > 0 and results["plan"]["model"] == "HFCausalLM"
    ckpt = load_checkpoint(hf_run / "checkpoints" / "last.ckpt")  # weights_only=True
    config = ckpt["seqlab"]["config"]["model"]["config"]
    assert config["model_type"] == "gpt2" and config["n_embd"] == 32
    assert config["eos_token_id"] == config["bos_token_id"]  # ids, not redacted as credentials
    assert ckpt["seqlab"]["tokenizers"]["text"]["kind"] == "pretrained"
    assert all(isinstance(v, torch.Tensor) for v in ckpt["state_dict"].values())


@pytest.mark.parametrize("decoding", ["greedy", "sample", "beam"])
def test_generate_from_the_checkpoint_alone(cli, hf_run, decoding):
    proc = cli("generate", f"ckpt_path={hf_run / 'checkpoints' / 'last.ckpt'}", "prompt=ROMEO:",
               f"decoding={decoding}", "decoding.max_new_tokens=8", expect=0)  # fmt: skip
    assert len(proc.stdout.strip().splitlines()) >= 1


def test_a_hub_name_offline_is_one_line_naming_the_cache_and_a_folder(cli):
    proc = cli("train", *HF_LM, "model.pretrained=nobody/no-such-model",
               env={"HF_HUB_OFFLINE": "1"})  # fmt: skip
    line = error_line(proc)
    assert line.startswith("model.pretrained=nobody/no-such-model: not a local folder")
    assert "Hugging Face cache" in line
    assert line.endswith("pass a local folder: model.pretrained=/path/to/folder")


def test_without_pretrained_or_config_is_one_line(cli):
    proc = cli("train", *HF_LM, "tokenizer.name=x")
    assert "needs model.pretrained=<hub name or folder>" in error_line(proc)


def test_a_hub_name_with_no_network_is_the_same_one_line(cli):
    proc = cli("train", *HF_LM, "model.pretrained=nobody/no-such-model")  # proxies refused
    line = error_line(proc)
    assert line.startswith("model.pretrained=nobody/no-such-model: not a local folder")
    assert line.endswith("pass a local folder: model.pretrained=/path/to/folder")


def test_from_scratch_builds_the_architecture_model_config_names(workdir, gpt2_folder):
    tmp, env = workdir
    llama = ("{model_type: llama, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, "
             "num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64}")  # fmt: skip
    run_in_process("train", *HF_LM, "model.pretrained=null", f"model.config={llama}",
                   f"tokenizer.name={gpt2_folder}", *SHORT, "test=false", cwd=tmp,
                   env=dict(env, SEQLAB_LOG_DIR=str(tmp / "scratch")))  # fmt: skip
    [run] = run_folders(tmp / "scratch")
    config = load_checkpoint(run / "checkpoints" / "last.ckpt")["seqlab"]["config"]["model"]
    # The vocabulary and eos come from the tokenizer the model is built for.
    assert config["config"]["model_type"] == "llama" and config["config"]["vocab_size"] == 300
    assert config["config"]["eos_token_id"] == 0


def test_a_seq2seq_task_runs_as_prefix_lm_and_generates(workdir, cli, gpt2_folder):
    tmp, env = workdir
    run_in_process("train", "task=translation", "data=scan", "model=hf_causal_lm",
                   "tokenizer=pretrained", f"model.pretrained={gpt2_folder}", *SHORT[1:],
                   "task.block_size=64", cwd=tmp, env=dict(env, SEQLAB_LOG_DIR=str(tmp / "scan")))  # fmt: skip
    [run] = run_folders(tmp / "scan")
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    assert {"val/exact_match", "test/exact_match", "test/bleu"} <= set(metrics)
    cli("generate", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "prompt=jump twice",
        "decoding=beam", expect=0)  # fmt: skip


def test_plan_reads_the_architecture_from_the_folder(cli, gpt2_folder):
    proc = cli("plan", *HF_LM, f"model.pretrained={gpt2_folder}", "task.block_size=64", expect=0)
    # 300 tokens x 32 + 64 positions x 32 embedding; 2 blocks of width 32 and the final norm.
    assert (
        "(HFCausalLM)" in proc.stdout
        and "37.1K: 11.6K embedding, 25.5K non-embedding" in proc.stdout
    )


@pytest.mark.slow
def test_resume_after_sigterm_equals_the_uninterrupted_run(
    tmp_path, data_root, cache_dir, gpt2_folder
):
    """GPT-2's dropout (0.1) draws at every step: the resumed run must draw what it would have.
    (test=false: which checkpoint is "best" after a resume is not what this test is about.)"""
    env = dict(cli_env(data_root, cache_dir, tmp_path, test_callbacks=True), OMP_NUM_THREADS="1")
    assert_sigterm_resume_is_exact(
        tmp_path, env, [*HF_LM, f"model.pretrained={gpt2_folder}", *SHORT, *KILLED_AT_4_OF_6]
    )
