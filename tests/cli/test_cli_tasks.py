"""Every task on every compatible architecture, through seqlab-train as a user runs it.

Encoder–decoders and decoder-only models (as prefix LMs) on translation, summarization, QA and
denoising; tiny models and a few batches each, so these check wiring and metrics, not quality.
"""

import json

import pytest
import sacrebleu
import torch

from helpers.cli import run_folders
from seqlab.runs.predictions import FILENAME, read_predictions

SHORT = [
    "size=tiny",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "loader.batch_size=16",
    "decoding.max_len_a=8",
    "decoding.max_len_b=0",
]
SCAN = ["data=scan", "tokenizer=word", "task=translation"]
BABI = ["data=babi", "data.tasks=[1,2]", "tokenizer=word", "task=qa"]
SCITLDR = ["data=scitldr", "tokenizer=bpe", "tokenizer.vocab_size=400", "task=summarization",
           "task.block_size=128"]  # fmt: skip
DENOISE = ["data=tinyshakespeare", "tokenizer=char", "task=denoise", "task.block_size=128"]
TASKS = {
    "translation": (SCAN, ["exact_match", "bleu", "chrf"]),
    "qa": (BABI + ["task.max_src_len=400"], ["exact_match", "qa_f1", "acc_mean"]),
    "summarization": (SCITLDR, ["rouge1", "rouge2", "rougeL", "bleu"]),
    "denoise": (DENOISE, ["exact_match", "bleu"]),
}
MODELS = ("gru_seq2seq", "transformer_seq2seq", "gpt", "gru_lm")
CASES = {
    f"{task}-{model}": (overrides + [f"model={model}"], metrics)
    for task, (overrides, metrics) in TASKS.items()
    for model in MODELS
    if not (task == "translation" and model.endswith("seq2seq"))  # test_cli_train runs those
}


def _results(tmp_path) -> dict:
    [run] = run_folders(tmp_path / "outputs")
    return json.loads((run / "results.json").read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_task_runs_on_architecture(case, run_cli, tmp_path):
    overrides, metrics = CASES[case]
    run_cli("train", *SHORT, *overrides)
    results = _results(tmp_path)
    assert results["status"] == "ok"
    for name in ["loss", "token_acc", *metrics]:
        assert f"test/{name}" in results["metrics"], name
    assert results["metrics"]["test/loss"] > 0
    [run] = run_folders(tmp_path / "outputs")
    rows = read_predictions(run / FILENAME)  # every test decode, in dataset order
    assert 0 < len(rows) <= 16 and [r["index"] for r in rows] == sorted({r["index"] for r in rows})
    assert all(isinstance(r["hypothesis"], str) and r["references"] for r in rows)
    if case.startswith("translation"):  # the file holds exactly what BLEU scored
        bleu = sacrebleu.corpus_bleu(
            [r["hypothesis"] for r in rows], [[r["references"][0] for r in rows]]
        )
        assert results["metrics"]["test/bleu"] == pytest.approx(bleu.score, abs=1e-3)
    if case.startswith("qa"):
        assert {r["group"] for r in rows} <= {"qa1", "qa2"}
    if case.startswith("qa"):  # per-task accuracy for the tasks the test batch held
        assert {k for k in results["metrics"] if k.startswith("test/acc_qa")} <= {
            "test/acc_qa1",
            "test/acc_qa2",
        } and any(k.startswith("test/acc_qa") for k in results["metrics"])


def test_prefix_lm_generates_after_the_separator(run_cli, tmp_path):
    run_cli("train", *SHORT, *SCAN, "model=gpt", "trainer.limit_train_batches=30")
    best = _results(tmp_path)["best"]["checkpoint"]
    out = run_cli(
        "generate", f"ckpt_path={best}", "prompt=jump twice", "decoding.max_len_a=6",
        "decoding.max_len_b=0",
    )  # fmt: skip
    words = out.stdout.split()
    assert 0 < len(words) <= 6
    # the target vocabulary is SCAN's actions (one shared vocabulary: commands can appear too)
    assert all(w.isupper() or w.islower() for w in words)


@pytest.mark.parametrize("src,tgt,tok", [("cmn", "eng", "13a"), ("eng", "cmn", "zh")])
def test_chinese_english_both_directions(src, tgt, tok, run_cli, tmp_path):
    run_cli(
        "train", *SHORT, "data=tatoeba_cmn_eng", f"data.src_lang={src}", f"data.tgt_lang={tgt}",
        "tokenizer=char", "task=translation", "model=transformer_seq2seq",
    )  # fmt: skip
    results = _results(tmp_path)
    assert f"tok:{tok}" in results["metric_signatures"]["bleu"]
    assert "test/chrf" in results["metrics"]
    [run] = run_folders(tmp_path / "outputs")
    vocab = json.loads((run / "tokenizers.json").read_text())["src"]["json"]
    assert "的" in vocab  # Chinese characters are in the vocabulary, not <unk>


def test_denoiser_encodes_texts_from_python(run_cli, tmp_path):
    run_cli("train", *SHORT, *DENOISE, "model=transformer_seq2seq", "test=false")
    [run] = run_folders(tmp_path / "outputs")
    from seqlab.lit.build import load_module

    module = load_module(str(run / "checkpoints" / "last.ckpt"))
    lines = ["First Citizen:", "Before we proceed any further, hear me speak.", "All:"]
    z = module.encode(lines)
    assert z.shape == (3, 64) and torch.isfinite(z).all()
    assert torch.allclose(module.encode(lines[:1]), z[:1], atol=1e-5)  # batching does not leak


def test_task_needing_pairs_refuses_text_data(run_cli):
    proc = run_cli("train", "data=tinyshakespeare", "task=qa", expect=2)
    assert "needs pairs data" in proc.stderr and "task.kind=denoise" in proc.stderr
