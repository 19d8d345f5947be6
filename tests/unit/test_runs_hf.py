"""Settling a `transformers` model's run config from its folder: the forced first token."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from seqlab.errors import SeqlabError

pytest.importorskip("transformers")

from helpers.hf import multi30k_lines, save_tiny_seq2seq  # noqa: E402
from seqlab.runs.hf import apply_hf_pretrained  # noqa: E402


def _cfg(folder, forced=None):
    net = {"_target_": "seqlab.models.hf.seq2seq.HFSeq2Seq", "max_len": None}
    model = {"net": net, "pretrained": str(folder), "forced_bos_token_id": forced, "adapter": None}
    return OmegaConf.create({"model": model, "task": {}})


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    return save_tiny_seq2seq(
        tmp_path_factory.mktemp("bart"), "bart", multi30k_lines(data_root, 100)
    )


def _set_forced(folder, name: str, value) -> None:
    path = folder / name
    fields = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**fields, "forced_bos_token_id": value}))


def test_the_folders_forced_first_token_is_read_and_an_override_wins(folder):
    _set_forced(folder, "generation_config.json", None)
    cfg = _cfg(folder)
    apply_hf_pretrained(cfg)
    assert cfg.model.forced_bos_token_id is None
    _set_forced(folder, "generation_config.json", 0)  # as BART-large's: <s> first
    cfg = _cfg(folder)
    apply_hf_pretrained(cfg)
    assert cfg.model.forced_bos_token_id == 0
    cfg = _cfg(folder, forced=5)  # mBART-50: the target language the user picks
    apply_hf_pretrained(cfg)
    assert cfg.model.forced_bos_token_id == 5


def test_a_forced_token_outside_the_vocabulary_is_one_line(folder):
    with pytest.raises(SeqlabError, match="config key 'model.forced_bos_token_id': 99999 is not"):
        apply_hf_pretrained(_cfg(folder, forced=99999))
