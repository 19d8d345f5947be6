"""Encoder–decoder training: teacher-forced cross-entropy; decodes start from <bos> after encoding."""

from __future__ import annotations

import torch

from seqlab.errors import SeqlabError
from seqlab.generation import generate
from seqlab.lit.pairs import PairsTaskModule


class Seq2SeqModule(PairsTaskModule):
    """Trains a GRU or Transformer encoder–decoder on (source, target) pairs."""

    def setup(self, stage: str) -> None:
        """Refuse, in one line, data longer than a Transformer's learned positions."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None:
            return
        src_limit, tgt_limit = self.net.max_source_len, self.net.max_target_len
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, ())
        for split in splits:
            src, tgt = datamodule.longest(split)
            if src_limit and src > src_limit:
                raise SeqlabError(
                    f"the {split} split has a source of {src} tokens, more than "
                    f"model.net.max_len={src_limit}; set task.max_src_len={src_limit - 1} to keep the "
                    "first tokens (task.keep_src=last: the last ones), or raise model.net.max_len"
                )
            if tgt_limit and tgt > tgt_limit:
                raise SeqlabError(
                    f"the {split} split has a target of {tgt} tokens, more than "
                    f"model.net.max_len={tgt_limit}; raise model.net.max_len (or drop long training "
                    "pairs with data.cleaning.max_len)"
                )

    def _logits(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        tgt_in, tgt_out = batch["tgt"][:, :-1], batch["tgt"][:, 1:]
        logits = self.net(batch["src"], tgt_in, src_lengths=batch.get("src_lengths_host"))
        return logits, tgt_out

    def _decode(self, batch: dict, keep: torch.Tensor) -> torch.Tensor:
        src, lengths = batch["src"][keep], batch["src_lengths"][keep]
        return generate(self.net, src, self.decoding, input_lengths=lengths).best

    def _pooled_states(self, src: torch.Tensor) -> torch.Tensor:
        enc = self.net.encode(src)
        mask = enc["src_mask"].unsqueeze(-1).to(enc["memory"].dtype)
        return (enc["memory"] * mask).sum(1) / mask.sum(1).clamp(min=1)
