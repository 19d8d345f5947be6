"""Fine-tuning `transformers` models as a user runs it: LoRA on a tiny GPT-2 folder and a frozen
encoder on a tiny BART, trained a few steps, exported with seqlab-export and loaded back by
`transformers` (and `peft`) alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers.cli import cli_env, error_line, run_folders, run_in_process
from helpers.resume import KILLED_AT_4_OF_6, assert_sigterm_resume_is_exact
from seqlab.runs.checkpoints import load_checkpoint

transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from helpers.hf import (  # noqa: E402
    multi30k_lines,
    same_logits,
    save_tiny_gpt2,
    save_tiny_seq2seq,
    shakespeare_lines,
)

HF_LM = ["task=lm", "data=tinyshakespeare", "model=hf_causal_lm", "tokenizer=pretrained"]
LM_SHORT = ["task.block_size=32", "loader.batch_size=8", "trainer.max_steps=4",
            "trainer.val_check_interval=4", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
LORA = ["model.adapter=lora", "optimizer.lr=0.01"]
MULTI30K = ["task=translation", "data=multi30k", "model=hf_seq2seq", "tokenizer=pretrained",
            "loader.batch_size=8", "trainer.max_steps=3", "trainer.val_check_interval=3",
            "trainer.limit_val_batches=1", "test=false", "decoding.max_len_a=4",
            "decoding.max_len_b=0", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip


def train(workdir, name: str, *args: str):
    tmp, env = workdir
    proc = run_in_process("train", *args, cwd=tmp, env=dict(env, SEQLAB_LOG_DIR=str(tmp / name)))
    [run] = run_folders(tmp / name)
    return run, proc.stdout


@pytest.fixture(scope="module")
def gpt2_folder(workdir, data_root) -> Path:
    return save_tiny_gpt2(workdir[0] / "tiny-gpt2", shakespeare_lines(data_root))


@pytest.fixture(scope="module")
def lora_run(workdir, gpt2_folder):
    return train(workdir, "lora", *HF_LM, f"model.pretrained={gpt2_folder}", *LORA, *LM_SHORT)


@pytest.fixture(scope="module")
def bart_run(workdir, data_root):
    folder = save_tiny_seq2seq(workdir[0] / "tiny-bart", "bart", multi30k_lines(data_root))
    run, out = train(workdir, "frozen", *MULTI30K, f"model.pretrained={folder}",
                     "model.freeze=[encoder]", "model.gradient_checkpointing=true")  # fmt: skip
    return run, out, folder


def test_a_lora_checkpoint_holds_only_the_adapter(lora_run, gpt2_folder):
    run, _ = lora_run
    ckpt = load_checkpoint(run / "checkpoints" / "last.ckpt")  # weights_only=True
    names = list(ckpt["state_dict"])
    assert names and all(".lora_A." in n or ".lora_B." in n for n in names)
    stored = sum(v.numel() for v in ckpt["state_dict"].values())
    base = (gpt2_folder / "model.safetensors").stat().st_size
    assert stored * 4 * 10 < base  # well under a tenth of the model's weights
    assert (run / "checkpoints" / "last.ckpt").stat().st_size < base
    params = json.loads((run / "results.json").read_text())["parameters"]
    assert params["trainable"] == stored < params["total"] / 10


def test_the_log_plan_and_model_card_say_what_trains(lora_run):
    run, out = lora_run
    params = json.loads((run / "results.json").read_text())["parameters"]
    assert f"trainable parameters: {params['trainable']:,} of {params['total']:,}" in out
    assert "model.adapter: lora r=8, alpha=16, dropout=0.0, target_modules=None" in out
    plan_line = next(line for line in out.splitlines() if line.startswith("plan: "))
    assert "trainable" in plan_line
    card = (run / "MODEL_CARD.md").read_text()
    assert f"{params['trainable']:,} trainable" in card and "LoRA" in card


def test_loading_the_lora_checkpoint_rebuilds_the_trained_model(lora_run, gpt2_folder):
    from seqlab.generation.text import load_model

    run, _ = lora_run
    path = run / "checkpoints" / "last.ckpt"
    net, _, _ = load_model(load_checkpoint(path), str(path))
    base = transformers.AutoModelForCausalLM.from_pretrained(gpt2_folder).eval()
    ids = torch.arange(6, 26).reshape(2, 10)
    with torch.no_grad():
        ours, theirs = net(ids), base(ids - 6).logits
    # The base weights came back from model.pretrained, and the trained adapter moved them.
    assert all(torch.equal(net.hf_model.get_input_embeddings().weight, w)
               for w in [base.get_input_embeddings().weight])  # fmt: skip
    assert (ours[..., 7:] - theirs[..., 1:]).abs().max() > 1e-4


@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_generate_from_the_lora_checkpoint(cli, lora_run, decoding):
    path = lora_run[0] / "checkpoints" / "last.ckpt"
    proc = cli("generate", f"ckpt_path={path}", "prompt=ROMEO:", f"decoding={decoding}",
               "decoding.max_new_tokens=8", expect=0)  # fmt: skip
    assert proc.stdout.strip()


def test_seqlab_eval_of_the_lora_checkpoint_scores_what_training_did(cli, lora_run, tmp_path):
    run, _ = lora_run
    results = json.loads((run / "results.json").read_text())
    cli("evaluate", f"ckpt_path={results['best']['checkpoint']}", "trainer.limit_test_batches=1",
        expect=0)  # fmt: skip
    [scored] = (tmp_path / "outputs" / "runs" / "eval").glob("*/results.json")
    score = json.loads(scored.read_text())["metrics"]["test/loss"]
    assert score == pytest.approx(results["metrics"]["test/loss"], rel=1e-5)


def test_export_merges_lora_into_a_plain_transformers_folder(cli, lora_run, tmp_path):
    from seqlab.generation.text import load_model

    run, _ = lora_run
    path = run / "checkpoints" / "last.ckpt"
    out = tmp_path / "merged"
    proc = cli("export", f"ckpt_path={path}", f"out={out}", expect=0)
    assert "lora merged" in proc.stdout
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    assert not (out / "adapter_config.json").exists()
    merged = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    assert type(merged).__name__ == "GPT2LMHeadModel"
    assert transformers.AutoTokenizer.from_pretrained(out)("ROMEO:")["input_ids"]
    net, _, _ = load_model(load_checkpoint(path), str(path))
    same_logits(net, merged)


def test_export_adapter_only_writes_a_peft_folder(cli, lora_run, gpt2_folder, tmp_path):
    from peft import PeftModel

    from seqlab.generation.text import load_model

    run, _ = lora_run
    path = run / "checkpoints" / "last.ckpt"
    out = tmp_path / "adapter"
    cli("export", f"ckpt_path={path}", f"out={out}", "adapter_only=true", expect=0)
    assert (out / "adapter_config.json").exists() and not (out / "model.safetensors").exists()
    base = transformers.AutoModelForCausalLM.from_pretrained(gpt2_folder)
    peft_model = PeftModel.from_pretrained(base, out).eval()
    net, _, _ = load_model(load_checkpoint(path), str(path))
    same_logits(net, peft_model)


def test_a_frozen_encoder_keeps_its_pretrained_weights(bart_run):
    run, out, folder = bart_run
    assert "model.freeze: encoder frozen" in out
    assert "model.gradient_checkpointing: activations recomputed" in out
    assert json.loads((run / "results.json").read_text())["metrics"]["val/loss"] > 0
    assert "model.freeze: decoder shares model.model.shared.weight" in out  # BART's one table
    trained = load_checkpoint(run / "checkpoints" / "last.ckpt")["state_dict"]
    original = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).state_dict()
    encoder = [k for k in original if k.startswith("model.encoder.layers.")]
    decoder = [k for k in original if k.startswith("model.decoder.layers.")]
    assert encoder and all(torch.equal(trained[f"net.model.{k}"], original[k]) for k in encoder)
    assert any(not torch.equal(trained[f"net.model.{k}"], original[k]) for k in decoder)


def test_a_fine_tuned_bart_exports_and_transformers_loads_it(cli, bart_run, tmp_path):
    from seqlab.generation.text import load_model

    run, _, _ = bart_run
    path = run / "checkpoints" / "last.ckpt"
    cli("export", f"ckpt_path={path}", f"out={tmp_path / 'bart'}", expect=0)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "bart").eval()
    net, _, _ = load_model(load_checkpoint(path), str(path))
    same_logits(net, model, seq2seq=True)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model.freeze=[encoder]"], "config key 'model.freeze': 'encoder' is not a part of "
         "HFCausalLM; its parts: embeddings, decoder, lm_head"),
        (["model.freeze=[head]"], "config key 'model.freeze': 'head' is not a part; choose from "
         "embeddings, encoder, decoder, lm_head"),
        (["model.adapter=qlora"], "config key 'model.adapter': 'qlora' is not valid; choose "
         "null or lora"),
        (["model.adapter=lora", "model.lora.r=0"], "config key 'model.lora.r': 0 is not valid; "
         "give a positive integer"),
    ],
)  # fmt: skip
def test_bad_fine_tuning_settings_are_one_line(cli, gpt2_folder, args, expected):
    proc = cli("train", *HF_LM, f"model.pretrained={gpt2_folder}", *LM_SHORT, *args)
    assert error_line(proc) == expected


def test_lora_without_pretrained_weights_is_one_line(cli):
    proc = cli("train", *HF_LM, "model.config={model_type: gpt2, n_layer: 1}",
               "tokenizer.name=gpt2", "model.adapter=lora")  # fmt: skip
    assert error_line(proc).startswith("config key 'model.adapter': LoRA trains on pre-trained")


def test_gradient_checkpointing_on_seqlab_gpt_is_one_line(cli):
    proc = cli("train", "experiment=shakespeare_gpt", "+model.gradient_checkpointing=true")
    assert error_line(proc) == (
        "config key 'model.gradient_checkpointing': only model=hf_causal_lm and "
        "model=hf_seq2seq support it; leave it unset"
    )


@pytest.mark.slow
def test_lora_resume_after_sigterm_equals_the_uninterrupted_run(
    tmp_path, data_root, cache_dir, gpt2_folder
):
    env = dict(cli_env(data_root, cache_dir, tmp_path, test_callbacks=True), OMP_NUM_THREADS="1")
    assert_sigterm_resume_is_exact(tmp_path, env, [*HF_LM, f"model.pretrained={gpt2_folder}",
                                                   *LORA, *LM_SHORT, *KILLED_AT_4_OF_6])  # fmt: skip
