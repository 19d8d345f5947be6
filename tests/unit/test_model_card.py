"""Tests for seqlab.runs.model_card: facts from the config, the card, checkpoint-safe facts, notices."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

import seqlab
from seqlab.runs.model_card import card_facts, commercial_use, license_notice, write_model_card

DATA_CONFIGS = sorted((Path(seqlab.__file__).parent / "conf" / "data").glob("*.yaml"))
RESULTS = {
    "run_id": "2026-01-01_00-00-00_abcdef",
    "metrics": {"test/bleu": 35.1234, "test/exact_match": 0.25, "test/loss": 1.5},
    "parameters": {"total": 9_260_000, "embedding": 3_790_000, "non_embedding": 5_470_000},
    "steps": 2280,
    "epochs": 10,
    "wall_time_s": 3065.0,
    "plan": {
        "vocab": {"src": 7893, "tgt": 5904},
        "devices": {"count": 2},
        "batch": {"tokens": 1797.0, "accumulate": 1},
    },
}


def run_config(*overrides: str) -> dict:
    """A composed seqlab-train config as plain containers, as train.py stores it."""
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "name=card_test", "paths.output_dir=out"])
    return OmegaConf.to_container(cfg, resolve=True)


def test_every_data_config_names_its_license_and_source():
    for path in DATA_CONFIGS:
        data = OmegaConf.load(path)
        assert "license" in data, f"{path.name}: license is missing"
        user_data = OmegaConf.is_missing(data, "path")  # the user's own file: terms are theirs
        assert user_data or data.get("license"), f"{path.name}: license is missing"
        assert "url" in data, f"{path.name}: url is missing"
        assert data.get("commercial_use") in (None, True, False), path.name


def test_commercial_use_flag_wins_over_license_text():
    assert commercial_use({"license": "CC BY-NC 4.0"}) is False
    assert commercial_use({"license": "non-commercial research use only"}) is False
    assert commercial_use({"license": "Apache-2.0"}) is None
    assert commercial_use({"license": "Apache-2.0", "commercial_use": True}) is True
    assert commercial_use({"license": "see the card", "commercial_use": False}) is False


def test_card_facts_travel_in_a_weights_only_checkpoint(tmp_path):
    facts = card_facts(run_config("experiment=multi30k_transformer"))
    torch.save({"seqlab": {"card": facts}}, tmp_path / "model.ckpt")
    loaded = torch.load(tmp_path / "model.ckpt", weights_only=True)
    assert loaded["seqlab"]["card"] == facts
    assert facts["architecture"] == "TransformerSeq2Seq"
    assert facts["data"]["commercial_use"] is False
    assert facts["data"]["url"] == "https://github.com/multi30k/dataset"
    assert facts["decoding"]["strategy"] == "greedy"


def test_model_card_has_every_fact(tmp_path):
    cfg = run_config("experiment=multi30k_transformer", "trainer=ddp_cpu")
    text = write_model_card(tmp_path, cfg, RESULTS).read_text(encoding="utf-8")
    for heading in ("Model", "Data", "Training budget", "Final metrics", "Intended use",
                    "Known limits"):  # fmt: skip
        assert f"\n## {heading}\n" in text
    assert "TransformerSeq2Seq (seq2seq): d_model=256" in text
    assert "multi30k (de → en)" in text and "commercial use: **no**" in text
    assert "https://github.com/multi30k/dataset" in text
    assert "Tokenizer: word, src vocabulary 7,893, tgt vocabulary 5,904" in text
    assert f"Tokens seen: {2280 * 1797 * 2:,}" in text and "Wall time: 51.1 min" in text
    assert "| test/bleu | 35.1234 |" in text and "`greedy` decodes" in text
    assert "Non-commercial use only" in text
    assert "lowercased" in text and "longer than 512 tokens" in text


def test_language_model_card_says_no_decoding(tmp_path):
    cfg = run_config("experiment=shakespeare_gpt")
    text = write_model_card(tmp_path, cfg, {"metrics": {"test/loss": 1.47}}).read_text()
    assert "no decoding" in text and "at most 64 tokens of context" in text
    assert "Tokens seen: not recorded" in text


def test_license_notice_for_generate():
    multi30k = run_config("experiment=multi30k_transformer")
    notice = license_notice({"card": card_facts(multi30k), "config": multi30k})
    assert notice and "\n" not in notice and "non-commercial" in notice
    assert license_notice({"config": multi30k}) == notice  # older checkpoints carry no card
    assert license_notice({"config": run_config()}) is None  # SCAN: BSD
