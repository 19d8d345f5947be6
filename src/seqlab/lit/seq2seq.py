"""Sequence-to-sequence training: teacher-forced cross-entropy, then metrics on decodes with the
configured decoding strategy (greedy, sampling or beam search)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.text import SacreBLEUScore

from seqlab.data.tokenizers import EOS_ID, PAD_ID, Tokenizer
from seqlab.generation import DecodingOptions, generate
from seqlab.lit.base import SeqlabModule
from seqlab.metrics import ExactMatch


class Seq2SeqModule(SeqlabModule):
    """Trains an encoder–decoder; validation/test decode and score exact match and BLEU.

    Args:
        label_smoothing: cross-entropy label smoothing.
        val_generate_limit: decode only examples whose dataset index is below this at validation
            (None = all); test always decodes every example.
        bleu_tokenize: sacreBLEU tokenizer ("13a", "zh", "intl", ...).
        decoding: the ``decoding`` config section (strategy and its settings); metrics score
            the best hypothesis.
    """

    max_samples = 5  # source / reference / hypothesis rows kept per evaluation (see SampleLogger)

    def __init__(
        self,
        *args,
        label_smoothing: float = 0.0,
        val_generate_limit: int | None = None,
        bleu_tokenize: str = "13a",
        decoding: dict,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.label_smoothing = label_smoothing
        self.val_generate_limit = val_generate_limit
        self.decoding = DecodingOptions.from_config(decoding)
        self.tgt_tokenizer = Tokenizer.from_state(self.tokenizer_states["tgt"])
        for stage in ("val", "test"):
            setattr(self, f"{stage}_loss", MeanMetric())
            setattr(self, f"{stage}_acc", MeanMetric())
            setattr(self, f"{stage}_em", ExactMatch())
            setattr(self, f"{stage}_bleu", SacreBLEUScore(tokenize=bleu_tokenize))
        self.samples: list[dict[str, str]] = []

    def _forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tgt_in, tgt_out = batch["tgt"][:, :-1], batch["tgt"][:, 1:]
        logits = self.net(batch["src"], tgt_in)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)),
            tgt_out.reshape(-1),
            ignore_index=PAD_ID,
            label_smoothing=self.label_smoothing,
        )
        return loss, logits, tgt_out

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _, _ = self._forward(batch)
        self.log("train/loss", loss, on_step=True, prog_bar=True, batch_size=batch["src"].size(0))
        return loss

    def _eval_step(self, batch: dict, stage: str) -> None:
        loss, logits, tgt_out = self._forward(batch)
        real = tgt_out != PAD_ID
        n_tokens = int(real.sum())
        getattr(self, f"{stage}_loss").update(loss, weight=n_tokens)
        correct = (logits.argmax(-1) == tgt_out) & real
        getattr(self, f"{stage}_acc").update(correct.sum() / n_tokens, weight=n_tokens)
        keep = torch.ones_like(batch["index"], dtype=torch.bool)
        if stage == "val" and self.val_generate_limit is not None:
            keep = batch["index"] < self.val_generate_limit
        if keep.any():
            self._score_decodes(batch, keep, stage)

    def _score_decodes(self, batch: dict, keep: torch.Tensor, stage: str) -> None:
        src, tgt = batch["src"][keep], batch["tgt"][keep]
        hyp = generate(self.net, src, self.decoding, input_lengths=batch["src_lengths"][keep]).best
        getattr(self, f"{stage}_em").update(hyp, tgt[:, 1:], PAD_ID, EOS_ID)
        texts = self.trainer.datamodule.texts(stage)
        indices = batch["index"][keep].tolist()
        hyps = self.tgt_tokenizer.decode_batch(hyp.tolist())
        refs = [texts["tgt"][i] for i in indices]
        getattr(self, f"{stage}_bleu").update(hyps, [[r] for r in refs])
        for i, h, r in zip(indices, hyps, refs, strict=True):
            if len(self.samples) < self.max_samples:
                self.samples.append({"source": texts["src"][i], "reference": r, "hypothesis": h})

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _log_epoch(self, stage: str) -> None:
        loss = getattr(self, f"{stage}_loss").compute()
        self.log(f"{stage}/loss", loss, prog_bar=True)
        self.log(f"{stage}/ppl", torch.exp(loss))
        self.log(f"{stage}/token_acc", getattr(self, f"{stage}_acc").compute())
        em = getattr(self, f"{stage}_em")
        if em.update_called:
            self.log(f"{stage}/exact_match", em.compute(), prog_bar=True)
            self.log(f"{stage}/bleu", getattr(self, f"{stage}_bleu").compute() * 100)
        for name in ("loss", "acc", "em", "bleu"):
            getattr(self, f"{stage}_{name}").reset()

    def on_validation_epoch_start(self) -> None:
        self.samples = []

    def on_test_epoch_start(self) -> None:
        self.samples = []

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
