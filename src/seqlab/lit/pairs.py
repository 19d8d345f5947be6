"""What every (source, target) task shares, whatever the architecture: teacher-forced loss and token
accuracy, then the task's metrics on decodes with the configured decoding strategy.

Encoder–decoders (`Seq2SeqModule`) and decoder-only prefix LMs (`PrefixLMModule`) differ only in how
they compute logits and decode; both score hypotheses here, so a task's numbers mean the same thing
on every architecture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchmetrics import MeanMetric

from seqlab.data.cleaning import clean_texts
from seqlab.data.tokenizers import EOS_ID, PAD_ID, Tokenizer
from seqlab.generation import DecodingOptions
from seqlab.lit.base import SeqlabModule, logs_this_step
from seqlab.metrics import (
    TEXT_METRICS,
    ExactMatch,
    GroupedAccuracy,
    build_text_metrics,
    exact_match_rows,
    resolve_bleu_tokenizer,
)
from seqlab.runs.predictions import gather_rows, write_predictions


def smoothed_over_finite(
    logits: torch.Tensor, targets: torch.Tensor, smoothing: float, ignore_index: int
) -> torch.Tensor:
    """Label-smoothed cross-entropy whose smoothing share goes to the finite logits only.

    PyTorch's spreads it over every column, so a model that masks columns with -inf (a
    `transformers` adapter's special tokens) would get an infinite loss. logits (N, V), targets (N,).
    """
    log_probs = logits.log_softmax(dim=-1)
    nll = nn.functional.nll_loss(log_probs, targets, ignore_index=ignore_index)
    finite = torch.isfinite(log_probs)
    uniform = -log_probs.masked_fill(~finite, 0.0).sum(-1) / finite.sum(-1)
    return (1 - smoothing) * nll + smoothing * uniform[targets != ignore_index].mean()


class PairsTaskModule(SeqlabModule):
    """Loss, token accuracy and decode metrics for translation, summarization, QA and denoising.

    Args:
        label_smoothing: cross-entropy label smoothing.
        val_generate_limit: decode only examples whose dataset index is below this at validation
            (None = all); test always decodes every example.
        metrics: decode metrics (exact_match, bleu, chrf, rouge, qa_f1).
        bleu_tokenize: sacreBLEU tokenizer ("13a", "zh", ...; "auto" picks from the target
            language in the data config).
        decoding: the ``decoding`` config section; metrics score the best hypothesis.
    """

    max_samples = 5  # source / reference / hypothesis rows kept per evaluation (see SampleLogger)

    def __init__(
        self,
        *args,
        label_smoothing: float = 0.0,
        val_generate_limit: int | None = None,
        metrics: Sequence[str] = ("exact_match", "bleu"),
        bleu_tokenize: str = "auto",
        decoding: dict,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.label_smoothing = label_smoothing
        self.val_generate_limit = val_generate_limit
        self.decoding = DecodingOptions.from_config(decoding)
        self.tgt_tokenizer = Tokenizer.from_state(self.tokenizer_states["tgt"])
        self.src_tokenizer = Tokenizer.from_state(self.tokenizer_states["src"])
        tgt_lang = (self.run_config.get("data") or {}).get("tgt_lang")
        self.bleu_tokenize = resolve_bleu_tokenizer(bleu_tokenize, tgt_lang)
        self.metric_names = list(metrics)
        text_names = [m for m in self.metric_names if m in TEXT_METRICS]
        self.metric_signatures: dict[str, str] = {}  # filled from what test scored
        for stage in ("val", "test"):
            setattr(self, f"{stage}_loss", MeanMetric())
            setattr(self, f"{stage}_acc", MeanMetric())
            setattr(self, f"{stage}_em", ExactMatch())
            text = build_text_metrics(text_names, bleu_tokenize=self.bleu_tokenize)
            setattr(self, f"{stage}_text", nn.ModuleDict(text))
        self.groups: dict[str, GroupedAccuracy] = {}
        self.samples: list[dict[str, str]] = []
        self.test_rows: list[dict] = []  # every test decode, for test_predictions.jsonl

    # Subclasses: logits and targets for the loss; best hypotheses for metrics.
    def _logits(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _decode(self, batch: dict, keep: torch.Tensor) -> torch.Tensor:
        """(K, L) token ids of the best hypothesis for the rows in ``keep`` (ends at <eos>)."""
        raise NotImplementedError

    def _loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, targets = self._logits(batch)
        flat, flat_targets = logits.reshape(-1, logits.size(-1)), targets.reshape(-1)
        if self.label_smoothing and getattr(self.net, "masked_logits", False):
            loss = smoothed_over_finite(flat, flat_targets, self.label_smoothing, PAD_ID)
        else:
            loss = nn.functional.cross_entropy(
                flat, flat_targets, ignore_index=PAD_ID, label_smoothing=self.label_smoothing
            )
        return loss, logits, targets

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _, _ = self._loss(batch)
        if logs_this_step(self._trainer):  # the loggers get the same values, without per-step cost
            size = batch["src"].size(0)
            self.log("train/loss", loss, on_step=True, prog_bar=True, batch_size=size)
        return loss

    def _eval_step(self, batch: dict, stage: str) -> None:
        loss, logits, targets = self._loss(batch)
        real = targets != PAD_ID
        n_tokens = int(real.sum())
        getattr(self, f"{stage}_loss").update(loss, weight=n_tokens)
        correct = (logits.argmax(-1) == targets) & real
        getattr(self, f"{stage}_acc").update(correct.sum() / n_tokens, weight=n_tokens)
        keep = torch.ones_like(batch["index"], dtype=torch.bool)
        if stage == "val" and self.val_generate_limit is not None:
            keep = batch["index"] < self.val_generate_limit
        if keep.any():
            self._score_decodes(batch, keep, stage)

    def _score_decodes(self, batch: dict, keep: torch.Tensor, stage: str) -> None:
        hyp = self._decode(batch, keep)
        ref_ids = batch["tgt"][keep][:, 1:]
        em = getattr(self, f"{stage}_em")
        em.update(hyp, ref_ids, PAD_ID, EOS_ID)
        texts = self.trainer.datamodule.texts(stage)
        indices = batch["index"][keep].tolist()
        hyps = self.tgt_tokenizer.decode_batch(hyp.tolist())
        refs = [texts["refs"][i] if "refs" in texts else [texts["tgt"][i]] for i in indices]
        for metric in getattr(self, f"{stage}_text").values():
            metric.update(hyps, refs)
        if "group" in texts:
            self._update_groups(stage, texts["group"], indices, hyp, ref_ids)
        for i, h, r in zip(indices, hyps, refs, strict=True):
            if stage == "test":
                row = {"index": i, "source": texts["src"][i], "references": r, "hypothesis": h}
                self.test_rows.append(
                    {**row, "group": texts["group"][i]} if "group" in texts else row
                )
            if len(self.samples) < self.max_samples:
                self.samples.append({"source": texts["src"][i], "reference": r[0], "hypothesis": h})

    def _update_groups(self, stage, groups, indices, hyp, ref_ids) -> None:
        """Exact match per example group (bAbI task), for per-group accuracy."""
        if stage not in self.groups:
            names = sorted(set(groups), key=lambda g: (len(g), g))
            self.groups[stage] = GroupedAccuracy(names).to(self.device)
        metric = self.groups[stage]
        correct = exact_match_rows(hyp, ref_ids, PAD_ID, EOS_ID)
        where = torch.tensor([metric.groups.index(groups[i]) for i in indices], device=self.device)
        metric.update(correct, where)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _log_epoch(self, stage: str) -> None:
        loss = getattr(self, f"{stage}_loss").compute()
        self.log_reduced(f"{stage}/loss", loss, prog_bar=True)
        self.log_reduced(f"{stage}/ppl", torch.exp(loss))
        self.log_reduced(f"{stage}/token_acc", getattr(self, f"{stage}_acc").compute())
        em = getattr(self, f"{stage}_em")
        if em.update_called:
            if "exact_match" in self.metric_names:
                self.log_reduced(f"{stage}/exact_match", em.compute(), prog_bar=True)
            for key, metric in getattr(self, f"{stage}_text").items():
                for name, value in metric.compute().items():
                    self.log_reduced(f"{stage}/{name}", value)
                if stage == "test" and metric.signature():
                    self.metric_signatures[key] = metric.signature()
            if stage in self.groups:
                for name, value in self.groups[stage].compute().items():
                    self.log_reduced(f"{stage}/acc_{name}", value)
                self.groups[stage].reset()
        for name in ("loss", "acc", "em"):
            getattr(self, f"{stage}_{name}").reset()
        for metric in getattr(self, f"{stage}_text").values():
            metric.reset()

    def on_validation_epoch_start(self) -> None:
        self.samples = []

    def on_test_epoch_start(self) -> None:
        self.samples = []
        self.test_rows = []

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
        rows = gather_rows(self.test_rows)
        if self.trainer.is_global_zero and rows:
            write_predictions(rows, self.trainer.default_root_dir)
        self.test_rows = []

    # The seed's "intermediate representation": a fixed-size vector per text.
    def _source_ids(self, texts: Sequence[str]) -> list:
        cleaning = (self.run_config.get("data") or {}).get("cleaning") or {}
        cleaned = clean_texts(
            list(texts),
            normalize=cleaning.get("normalize"),
            collapse_whitespace=cleaning.get("collapse_whitespace", True),
            lowercase=cleaning.get("lowercase", False),
        )
        return self.src_tokenizer.encode_batch(cleaned)

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """(N, d) latent vectors: the encoder's states (decoder-only: the final hidden states of
        the source) averaged over each text's tokens. Texts are cleaned and tokenized as in training.
        """
        ids = self._source_ids(texts)
        was_training = self.net.training
        self.net.eval()
        out = []
        for start in range(0, len(ids), batch_size):
            rows = ids[start : start + batch_size]
            width = max(len(r) for r in rows) + 1
            src = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
            for r, seq in enumerate(rows):
                src[r, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
                src[r, len(seq)] = EOS_ID
            out.append(self._pooled_states(src.to(self.device)))
        self.net.train(was_training)
        return torch.cat(out) if out else torch.empty(0)

    def _pooled_states(self, src: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
