"""seqlab-export as a user runs it: a GPT trained with seqlab-train becomes a folder that plain
`transformers` loads (in a process where seqlab cannot be imported) and that computes what the
checkpoint computes: logits within 1e-4 and the same greedy continuation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.cli import error_line, run_folders, run_in_process
from seqlab.generation.driver import generate
from seqlab.generation.options import DecodingOptions
from seqlab.generation.text import load_model
from seqlab.runs.checkpoints import load_checkpoint

pytest.importorskip("transformers")

PROMPT = "ROMEO: But soft"
# Load the folder with transformers alone: importing seqlab fails in this process.
WITHOUT_SEQLAB = """
import json, sys, torch
sys.modules["seqlab"] = None
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
tok = AutoTokenizer.from_pretrained(sys.argv[1])
ids = tok(sys.argv[2], return_tensors="pt").input_ids
with torch.no_grad():
    logits = model(ids).logits[0].tolist()
out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=20, do_sample=False,
                     eos_token_id=None)
print(json.dumps({"class": type(model).__name__, "ids": ids[0].tolist(), "logits": logits,
                  "continuation": out[0, ids.size(1):].tolist(),
                  "text": tok.decode(out[0], skip_special_tokens=True)}))
"""


@pytest.fixture(scope="module")
def gpt_ckpt(workdir) -> Path:
    tmp, env = workdir
    run_in_process("train", "experiment=shakespeare_gpt", "size=tiny", "trainer.max_steps=4",
                   "trainer.val_check_interval=4", "trainer.limit_val_batches=1", "test=false",
                   "callbacks.progress_bar.refresh_rate=0", cwd=tmp,
                   env=dict(env, SEQLAB_LOG_DIR=str(tmp / "gpt")))  # fmt: skip
    [run] = run_folders(tmp / "gpt")
    return run / "checkpoints" / "last.ckpt"


def test_an_exported_gpt_loads_in_plain_transformers_and_computes_the_same(cli, gpt_ckpt, tmp_path):
    out = tmp_path / "exported"
    proc = cli("export", f"ckpt_path={gpt_ckpt}", f"out={out}", expect=0)
    assert f"as a transformers GPT-2 folder: {out}" in proc.stdout
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    loaded = subprocess.run([sys.executable, "-c", WITHOUT_SEQLAB, str(out), PROMPT],
                            capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    theirs = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert theirs["class"] == "GPT2LMHeadModel"
    net, tokenizers, _ = load_model(load_checkpoint(gpt_ckpt), str(gpt_ckpt))
    ids = torch.tensor([tokenizers["text"].encode(PROMPT).tolist()])
    assert theirs["ids"] == ids[0].tolist()  # the same tokenizer
    with torch.no_grad():
        ours = net(ids)[0]
    assert (ours - torch.tensor(theirs["logits"])).abs().max().item() <= 1e-4
    greedy = DecodingOptions("greedy", max_len_a=0, max_len_b=0, max_new_tokens=20)
    assert generate(net, ids, greedy, eos_id=None).best[0].tolist() == theirs["continuation"]
    assert theirs["text"].startswith(PROMPT)


def test_export_refuses_a_model_without_a_transformers_twin(cli, scan_run, tmp_path):
    ckpt = scan_run / "checkpoints" / "last.ckpt"
    proc = cli("export", f"ckpt_path={ckpt}", f"out={tmp_path / 'x'}")
    assert error_line(proc).startswith(f"{ckpt} holds a RNNSeq2Seq: only seqlab's GPT")
    assert not (tmp_path / "x").exists()


def test_export_does_not_write_into_a_folder_in_use(cli, gpt_ckpt, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    proc = cli("export", f"ckpt_path={gpt_ckpt}", f"out={tmp_path / 'x'}")
    assert error_line(proc) == (
        f"out={tmp_path / 'x'} is not empty; choose a new folder or pass overwrite=true"
    )


def test_an_exported_folder_starts_a_new_run_with_the_same_model(cli, gpt_ckpt, tmp_path):
    """model.init_from: the folder's architecture, tokenizer and weights; untrained, the new run
    scores on the test split exactly what the exported checkpoint scores."""
    out = tmp_path / "exported"
    cli("export", f"ckpt_path={gpt_ckpt}", f"out={out}", expect=0)
    common = ["trainer.limit_test_batches=2"]
    cli("evaluate", f"ckpt_path={gpt_ckpt}", *common, expect=0)
    [evaluated] = [p.parent for p in (tmp_path / "outputs").rglob("results.json")]
    cli("train", "experiment=shakespeare_gpt", f"model.init_from={out}", "train=false", *common,
        "callbacks.progress_bar.refresh_rate=0", expect=0)  # fmt: skip
    [started] = [r for r in run_folders(tmp_path / "outputs") if r != evaluated]
    config = (started / "config.yaml").read_text()
    assert f"init_from: {out}" in config and "activation: gelu" in config
    scores = [json.loads((r / "results.json").read_text())["metrics"]["test/loss"]
              for r in (evaluated, started)]  # fmt: skip
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)


def test_init_from_a_folder_without_seqlabs_vocabulary_is_one_line(cli, tmp_path):
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 64}))
    proc = cli("train", "experiment=shakespeare_gpt", f"model.init_from={folder}")
    assert error_line(proc).startswith(
        f"model.init_from={folder}: no tokenizer.json and seqlab.json"
    )
