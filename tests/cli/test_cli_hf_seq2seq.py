"""model=hf_seq2seq as a user runs it: tiny BART, T5 and Marian folders saved offline (as a hub
download would be), trained a few steps with their own tokenizer, then generating from the
checkpoint alone."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from helpers.cli import cli_env, error_line, run_folders, run_in_process
from helpers.resume import KILLED_AT_4_OF_6, assert_sigterm_resume_is_exact
from seqlab.data.tokenizers import Tokenizer
from seqlab.runs.checkpoints import load_checkpoint

pytest.importorskip("transformers")

from helpers.hf import multi30k_lines, save_tiny_seq2seq, save_tiny_spm_marian  # noqa: E402

MULTI30K = ["task=translation", "data=multi30k", "model=hf_seq2seq", "tokenizer=pretrained"]
BABI = ["task=qa", "data=babi", "data.tasks=[1,2]", "model=hf_seq2seq", "tokenizer=pretrained"]
SHORT = ["loader.batch_size=8", "trainer.max_steps=4", "trainer.val_check_interval=4",
         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
         "decoding.max_len_a=8", "decoding.max_len_b=0",
         "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip


@pytest.fixture(scope="module")
def folders(workdir, data_root):
    tmp, _ = workdir
    lines = multi30k_lines(data_root)
    return {kind: save_tiny_seq2seq(tmp / f"tiny-{kind}", kind, lines)
            for kind in ("bart", "t5", "marian")}  # fmt: skip


def _train(workdir, name: str, *args: str) -> Path:
    tmp, env = workdir
    run_in_process("train", *args, cwd=tmp, env=dict(env, SEQLAB_LOG_DIR=str(tmp / name)))
    [run] = run_folders(tmp / name)
    return run


@pytest.fixture(scope="module")
def bart_run(workdir, folders):
    return _train(workdir, "bart", *MULTI30K, f"model.pretrained={folders['bart']}", *SHORT)


def test_a_pretrained_bart_translates_and_its_checkpoint_holds_plain_config(bart_run):
    results = json.loads((bart_run / "results.json").read_text())
    assert results["plan"]["model"] == "HFSeq2Seq"
    assert {"test/loss", "test/bleu", "test/chrf", "val/exact_match"} <= set(results["metrics"])
    ckpt = load_checkpoint(bart_run / "checkpoints" / "last.ckpt")  # weights_only=True
    config = ckpt["seqlab"]["config"]["model"]["config"]
    assert config["model_type"] == "bart" and config["d_model"] == 32
    assert (config["eos_token_id"], config["decoder_start_token_id"]) == (2, 2)
    assert ckpt["seqlab"]["tokenizers"]["src"]["kind"] == "pretrained"
    assert all(isinstance(v, torch.Tensor) for v in ckpt["state_dict"].values())


@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_generate_from_the_checkpoint_alone(cli, bart_run, decoding):
    proc = cli("generate", f"ckpt_path={bart_run / 'checkpoints' / 'last.ckpt'}",
               "prompt='Zwei Männer mit Mützen.'", f"decoding={decoding}",
               "decoding.max_len_a=8", expect=0)  # fmt: skip
    assert proc.stdout.count("\n") >= 1  # a line per hypothesis (a 4-step model's may be empty)


@pytest.mark.slow  # Marian's tokenizer encodes the training set in Python
def test_a_sentencepiece_marian_trains_on_its_own_tokenizers_and_generates(workdir, cli, data_root):
    """A hub Marian's layout (source.spm, target.spm, vocab.json, no tokenizer.json): sources and
    targets read with Marian's own two SentencePiece models; the checkpoint alone generates."""
    pytest.importorskip("sentencepiece")
    from transformers import MarianTokenizer

    folder = save_tiny_spm_marian(workdir[0] / "opus-mt-tiny", data_root)
    run = _train(workdir, "marian-spm", *MULTI30K, f"model.pretrained={folder}", *SHORT)
    tokenizers = load_checkpoint(run / "checkpoints" / "last.ckpt")["seqlab"]["tokenizers"]
    assert {"source.spm", "target.spm", "vocab.json"} <= set(tokenizers["tgt"]["files"])
    assert (tokenizers["src"]["target"], tokenizers["tgt"]["target"]) == (False, True)
    marian, text = MarianTokenizer.from_pretrained(str(folder)), "A man in a blue shirt."
    tgt = Tokenizer.from_state(tokenizers["tgt"]).encode(text)
    assert tgt.tolist() == [i + 6 for i in marian(text_target=text)["input_ids"][:-1]]
    cli("generate", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        "prompt='Zwei Männer mit Mützen.'", "decoding=beam", expect=0)  # fmt: skip


@pytest.mark.slow
def test_a_pretrained_t5_answers_babi_and_generates(workdir, cli, folders):
    run = _train(workdir, "t5", *BABI, f"model.pretrained={folders['t5']}", *SHORT)
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    assert {"test/exact_match", "test/qa_f1", "val/loss"} <= set(metrics)
    config = load_checkpoint(run / "checkpoints" / "last.ckpt")["seqlab"]["config"]["model"]
    assert config["config"]["model_type"] == "t5" and config["config"]["pad_token_id"] == 0
    cli("generate", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        "prompt='Mary went to the garden. Where is Mary?'", "decoding=beam", expect=0)  # fmt: skip


def test_from_scratch_builds_the_architecture_model_config_names(workdir, folders):
    marian = ("{model_type: marian, d_model: 32, encoder_layers: 1, decoder_layers: 1, "
              "encoder_attention_heads: 2, decoder_attention_heads: 2, encoder_ffn_dim: 64, "
              "decoder_ffn_dim: 64, max_position_embeddings: 256, pad_token_id: 300, "
              "decoder_start_token_id: 300}")  # fmt: skip
    run = _train(workdir, "scratch", *MULTI30K, "model.pretrained=null", f"model.config={marian}",
                 f"tokenizer.name={folders['marian']}", *SHORT, "test=false",
                 "task.label_smoothing=0.1")  # no share to the -inf special columns: finite  # fmt: skip
    config = load_checkpoint(run / "checkpoints" / "last.ckpt")["seqlab"]["config"]["model"]
    # The vocabulary and eos come from the tokenizer the model is built for.
    assert config["config"]["model_type"] == "marian" and config["config"]["vocab_size"] == 301
    assert config["config"]["eos_token_id"] == 0


def test_a_decoder_start_outside_the_vocabulary_is_one_line(cli, folders):
    proc = cli("train", *MULTI30K, "model.pretrained=null", f"tokenizer.name={folders['bart']}",
               "model.config={model_type: marian, d_model: 32}")  # Marian's pad: 58100  # fmt: skip
    assert error_line(proc).startswith(
        "config key 'model.config.pad_token_id': 58100 is not an id of the model's 300 tokens"
    )


def test_without_pretrained_or_config_is_one_line(cli):
    proc = cli("train", *MULTI30K, "tokenizer.name=x")
    assert "model=hf_seq2seq needs model.pretrained=<hub name or folder>" in error_line(proc)


def test_a_max_len_past_the_models_positions_is_one_line(cli, folders):
    proc = cli("train", *MULTI30K, f"model.pretrained={folders['bart']}", "model.net.max_len=300")
    assert error_line(proc).endswith(
        "model.net.max_len=300 exceeds the model's 256 positions; set model.net.max_len<=256"
    )


def test_plan_costs_it_as_the_transformer_of_its_widths(cli, folders):
    common = ["task=translation", "data=multi30k", "tokenizer=pretrained"]
    hf = cli("plan", *common, "model=hf_seq2seq", f"model.pretrained={folders['bart']}", expect=0)
    ours = cli("plan", *common, "model=transformer_seq2seq", f"tokenizer.name={folders['bart']}",
               "model.net.d_model=32", "model.net.n_heads=4", "model.net.n_encoder_layers=2",
               "model.net.n_decoder_layers=2", "model.net.d_ff=64", "model.net.dropout=0",
               expect=0)  # fmt: skip
    assert "(HFSeq2Seq)" in hf.stdout

    def flops(proc) -> str:
        return next(line for line in proc.stdout.splitlines() if "FLOPs" in line)

    assert flops(hf) == flops(ours)


@pytest.mark.slow
def test_resume_after_sigterm_equals_the_uninterrupted_run(tmp_path, data_root, cache_dir, folders):
    """BART's dropout (0.1) draws at every step: the resumed run must draw what it would have."""
    env = dict(cli_env(data_root, cache_dir, tmp_path, test_callbacks=True), OMP_NUM_THREADS="1")
    assert_sigterm_resume_is_exact(
        tmp_path, env, [*MULTI30K, f"model.pretrained={folders['bart']}", *SHORT, *KILLED_AT_4_OF_6]
    )


def test_a_sweep_of_bart_summarizers_with_and_without_lora_is_reported(workdir, folders):
    tmp, env = workdir
    env = dict(env, SEQLAB_LOG_DIR=str(tmp / "sweep"))
    scitldr = ["task=summarization", "data=scitldr", "model=hf_seq2seq", "tokenizer=pretrained",
               f"model.pretrained={folders['bart']}",
               "data.cleaning.max_len=250", "data.cleaning.too_long=truncate"]  # fmt: skip
    run_in_process("train", "-m", "model.adapter=null,lora", *scitldr, *SHORT, cwd=tmp, env=env)
    runs = run_folders(tmp / "sweep")
    assert len(runs) == 2 and len({r.parent for r in runs}) == 1
    rows = list(csv.DictReader((runs[0].parent / "summary.csv").open()))
    assert {r["status"] for r in rows} == {"ok"} and all(r["test/rouge1"] for r in rows)
    run_in_process("report", str(runs[0].parent), cwd=tmp, env=env)
    assert "lora" in (runs[0].parent / "report.html").read_text()
