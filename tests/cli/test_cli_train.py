"""The real entry points, run as a user runs them: seqlab-train then seqlab-eval on its checkpoint."""

import json

import pytest
import torch

from helpers.cli import run_folders

TINY = ["size=tiny", "trainer.max_epochs=1", "trainer.limit_val_batches=2"]
PAIRINGS = {
    "gru_scan": ["model=gru_seq2seq", "trainer.limit_train_batches=8", "loader.batch_size=32",
                 "trainer.limit_test_batches=2"],
    "transformer_scan": ["model=transformer_seq2seq", "trainer.limit_train_batches=8",
                         "loader.batch_size=32", "trainer.limit_test_batches=2"],
    "gpt_shakespeare": ["experiment=shakespeare_gpt", "trainer.max_steps=6", "trainer.val_check_interval=3",
                        "trainer.limit_test_batches=2"],
    "gru_lm_shakespeare": ["data=tinyshakespeare", "tokenizer=char", "task=lm",
                           "model=gru_lm", "task.block_size=32", "trainer.max_steps=6", "trainer.val_check_interval=3",
                           "trainer.check_val_every_n_epoch=null",
                           "trainer.limit_test_batches=2"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PAIRINGS))
def test_train_then_eval(name, run_cli, tmp_path):
    proc = run_cli("train", *TINY, *PAIRINGS[name])
    [run] = run_folders(tmp_path / "outputs")
    for f in (
        "config.yaml",
        "overrides.txt",
        "git.json",
        "environment.json",
        "metrics.csv",
        "tokenizers.json",
    ):
        assert (run / f).is_file(), f
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "ok" and results["parameters"]["total"] > 0
    assert "test/loss" in results["metrics"] and results["metrics"]["test/loss"] > 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert "run folder" in proc.stdout

    # SCAN's checkpoints are picked on what it is scored by; language models on their loss.
    assert results["best"]["monitor"] == (
        "val/loss" if "shakespeare" in name else "val/exact_match"
    )
    best = results["best"]["checkpoint"]
    ckpt = torch.load(best, weights_only=True)
    assert set(ckpt["seqlab"]) >= {"tokenizers", "config"}
    run_cli("evaluate", f"ckpt_path={best}", "trainer.limit_test_batches=2")
    [scored_file] = (tmp_path / "outputs" / "runs" / "eval").glob("*/results.json")
    scored = json.loads(scored_file.read_text())
    assert scored["metrics"]["test/loss"] == pytest.approx(
        results["metrics"]["test/loss"], rel=1e-4
    )


def test_a_corpus_in_several_compressed_files_trains_like_one_file(run_cli, tmp_path, data_root):
    """data.path as a list of files or a pattern, .gz and .zst among them: one stream, the same
    tokens, the same run."""
    import gzip

    import zstandard

    text = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:60_000]
    parts = tmp_path / "corpus"
    parts.mkdir()
    (parts / "whole.txt").write_text(text, encoding="utf-8")
    one, two = (text.index("\n", at) + 1 for at in (20_000, 40_000))  # files end at a line end
    (parts / "a.txt").write_text(text[:one], encoding="utf-8")
    (parts / "b.txt.gz").write_bytes(gzip.compress(text[one:two].encode()))
    (parts / "c.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(text[two:].encode()))
    common = ["task=lm", "model=gpt", "data=text_file", "tokenizer=char", "size=tiny",
              "task.block_size=32", "trainer.max_steps=2", "trainer.val_check_interval=2",
              "trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]  # fmt: skip
    listed = f"data.path=[{parts / 'a.txt'},{parts / 'b.txt.gz'},{parts / 'c.txt.zst'}]"
    pattern = f"data.path='{parts}/?.txt*'"  # a.txt, b.txt.gz, c.txt.zst
    results = []
    for path in (f"data.path={parts / 'whole.txt'}", listed, pattern):
        before = set(run_folders(tmp_path / "outputs"))
        run_cli("train", *common, path)
        [run] = set(run_folders(tmp_path / "outputs")) - before
        results.append(json.loads((run / "results.json").read_text()))
    whole, *several = results
    for other in several:
        assert other["data"] == whole["data"] and other["metrics"] == whole["metrics"]
