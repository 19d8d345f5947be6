"""The reproduction studies' scoring scripts (experiments/*/): the parts that compute numbers."""

import importlib.util
import random
from pathlib import Path

import pytest
import torch

from seqlab.runs.predictions import write_predictions

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def load(relative: str):
    spec = importlib.util.spec_from_file_location(Path(relative).stem, EXPERIMENTS / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(pairs):
    return [
        {"index": i, "source": "", "references": [r], "hypothesis": h}
        for i, (h, r) in enumerate(pairs)
    ]


def test_multi30k_scores_both_bleus(tmp_path):
    score = load("multi30k/score.py")
    assert score.tokenized("A man's dog, running.") == "a man ' s dog , running ."
    same = [
        ("A dog runs on the grass .", "A dog runs on the grass."),
        ("Two men talk .", "Two men talk."),
    ]
    write_predictions(rows(same), tmp_path)
    s = score.scores(tmp_path)
    assert s["sentences"] == 2 and s["tokenized_lc_bleu"] == pytest.approx(100)
    assert s["sacrebleu"] == pytest.approx(100)  # 13a splits the final period too
    write_predictions(rows([("a cat sleeps", "A dog runs on the grass.")]), tmp_path)
    assert score.scores(tmp_path)["tokenized_lc_bleu"] == 0


def test_scan_exact_match_by_reference_length():
    by_length = load("scan/by_length.py").by_length
    table = by_length(rows([("JUMP JUMP", "JUMP JUMP"), ("WALK", "WALK WALK"), ("RUN", "RUN")]))
    assert table == {1: (1, 1), 2: (1, 2)}


def test_scitldr_oracle_picks_the_closest_sentence():
    baselines = load("scitldr/baselines.py")
    refs = ["we propose a fast parser for code"]
    sentences = ["Deep learning is popular.", "We propose a fast code parser.", "Results are good."]
    assert baselines.oracle_sentence(sentences, refs) == sentences[1]
    r1, r2, rl = baselines.mean_rouge([refs[0]], [refs])
    assert r1 == pytest.approx(100) and rl == pytest.approx(100)


def test_overlay_smooths_and_tabulates():
    overlay = load("shakespeare_nanogpt/overlay.py")
    steps, means = overlay.smoothed({10: 2.0, 20: 4.0, 60: 1.0}, 50)
    assert steps == [50, 100] and means == [3.0, 1.0]
    text = overlay.table(
        {"a": {"train": {}, "val": {250: 2.0}}, "b": {"train": {}, "val": {250: 1.5}}}
    )
    assert "| 250 | 2.0000 | 1.5000 |" in text


def test_latent_retrieval_and_damage():
    latent = load("shakespeare_denoise/latent.py")
    keys = torch.eye(4)
    assert latent.retrieval(keys, keys + 0.01) == (1.0, 1.0)
    assert latent.retrieval(keys, keys.flip(0))[0] == 0.0
    assert latent.delete_chars("hello world", 0.0, random.Random(0)) == "hello world"
    assert len(latent.delete_chars("hello world", 0.5, random.Random(0))) < 11
    tags, share = latent.speaker_agreement(torch.tensor([[1.0, 0], [1, 0.1], [0, 1], [0.1, 1]]),
                                           ["ROMEO:", "JULIET:", "O Romeo", "Wherefore"])  # fmt: skip
    assert tags == 1.0 and share == 0.5


def test_pretrained_table_reads_run_and_eval_folders(tmp_path):
    table = load("pretrained/table.py")
    run = tmp_path / "finetune"
    run.mkdir()
    (run / "results.json").write_text(
        '{"metrics": {"test/exact_match": 0.45, "test/qa_f1": 45.0, "test/loss": 0.328},'
        ' "best": {"score": 0.49}, "steps": 232, "wall_time_s": 324.5}'
    )
    (run / "config.yaml").write_text(
        "seed: 1\nmodel: {pretrained: some/folder, config: {model_type: gpt2}}\n"
        "decoding: {strategy: greedy}\n"
    )
    (run / "metrics.csv").write_text("epoch,step,val/exact_match\n0,28,0.21\n,49,\n1,57,0.3\n")
    cells = [c.strip() for c in table.row(run).strip("| ").split("|")]
    assert cells[1:5] == ["pre-trained", "1", "greedy", "232"]
    assert cells[5:] == ["49.0", "45.0", "45.0", "0.328", "324"]
    assert table.curve(run).endswith("| 29: 21, 58: 30 |")
    scored = tmp_path / "eval"
    scored.mkdir()
    (scored / "results.json").write_text(
        '{"metrics": {"test/exact_match": 0.446}, "decoding": {"strategy": "beam"},'
        ' "wall_time_s": 89.0}'
    )
    assert "| (seqlab-eval) |  | beam |" in table.row(scored) and "| 44.6 |" in table.row(scored)
