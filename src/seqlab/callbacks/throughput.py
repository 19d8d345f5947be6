"""Training throughput and model FLOPs utilization (MFU), logged without per-step device reads.

Token and FLOP counts add up on the device and are read once per ``trainer.log_every_n_steps``,
when the metrics go to the loggers.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import lightning as L
from torch import nn

from seqlab.lit.base import logs_this_step
from seqlab.models.transformer import MultiHeadAttention


def _matmul_params(module: nn.Module) -> int:
    """Parameters each token multiplies once: all but embedding tables, plus an output projection
    tied to an embedding table (its matmul runs for every token even though it is stored once)."""
    tables = {id(m.weight) for m in module.modules() if isinstance(m, nn.Embedding)}
    used = sum(p.numel() for p in module.parameters() if id(p) not in tables)
    tied = sum(
        m.weight.numel()
        for m in module.modules()
        if isinstance(m, nn.Linear) and id(m.weight) in tables
    )
    return used + tied


def _attention_width(module: nn.Module, cross: bool) -> int:
    """Sum of model widths over the (self- or cross-) attention layers of ``module``."""
    return sum(
        m.d_model
        for m in module.modules()
        if isinstance(m, MultiHeadAttention) and m.cross == cross
    )


@dataclasses.dataclass
class ModelFlops:
    """Training FLOPs of a network per token, as nanoGPT and PaLM (Chowdhery et al., 2022,
    appendix B) estimate them: ``6 N`` for the N parameters a token multiplies (forward 2 N,
    backward 4 N), plus ``12 d T`` per attention layer of width d over T keys (QKᵀ and AV).

    Encoder–decoders count encoder parameters per source token and decoder parameters per target
    token. Recurrent models get the parameter term only: their attention (Bahdanau, Luong) is not
    counted, so their MFU is a slight underestimate.

    Why not ``seqlab.planning``'s exact per-matmul cost model: MFU is a published convention, and
    this formula keeps seqlab's MFU comparable with nanoGPT's and PaLM's; the plan counts what a
    step really multiplies, to predict time and memory. results.json labels each (``flops_method``
    here, ``plan.flops`` there).

    Attributes:
        encoder: Matmul parameters of the encoder (0 for decoder-only models).
        decoder: Matmul parameters of the decoder (the whole net for decoder-only models).
        encoder_attention: Summed width of the encoder's self-attention layers.
        decoder_attention: Summed width of the decoder's (causal) self-attention layers.
        cross_attention: Summed width of the decoder's cross-attention layers.
        method: How the estimate was made, for results.json.
    """

    encoder: int
    decoder: int
    encoder_attention: int = 0
    decoder_attention: int = 0
    cross_attention: int = 0
    method: str = "6N + 12·d·T per attention layer (PaLM)"

    @classmethod
    def of(cls, net: nn.Module) -> ModelFlops:
        encoder, decoder = getattr(net, "encoder", None), getattr(net, "decoder", None)
        if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
            encoder, decoder = None, net
        attention = any(isinstance(m, MultiHeadAttention) for m in net.modules())
        return cls(
            encoder=_matmul_params(encoder) if encoder is not None else 0,
            decoder=_matmul_params(decoder),
            encoder_attention=_attention_width(encoder, False) if encoder is not None else 0,
            decoder_attention=_attention_width(decoder, False),
            cross_attention=_attention_width(decoder, True),
            method="6N + 12·d·T per attention layer (PaLM)"
            if attention
            else "6N (parameters only; recurrent attention not counted)",
        )

    def step(self, src_tokens: Any, tgt_tokens: Any, src_len: int, tgt_len: int) -> Any:
        """Training FLOPs of one batch.

        Args:
            src_tokens: Real source tokens (int or 0-d tensor; 0 for language models).
            tgt_tokens: Real target (or LM) tokens.
            src_len: Padded source length S (the keys encoder and cross-attention see).
            tgt_len: Padded target length T (the keys decoder self-attention sees).
        """
        per_src = 6 * self.encoder + 12 * self.encoder_attention * src_len
        per_tgt = 6 * self.decoder + 12 * (self.decoder_attention * tgt_len)
        per_tgt += 12 * self.cross_attention * src_len
        return per_src * src_tokens + per_tgt * tgt_tokens


def batch_shape(batch: Any) -> tuple[Any, Any, int, int]:
    """(source tokens, target tokens, source length, target length) of a training batch.

    Seq2seq batches count real tokens (the targets the loss teaches: ``<bos>`` is only read);
    the counts stay 0-d tensors on the batch's device, so reading them costs no host sync.
    Language-model batches (x, y) are all real tokens.
    """
    if isinstance(batch, dict):
        src = batch["src_lengths"].sum()
        tgt = batch["tgt_lengths"].sum() - batch["tgt_lengths"].numel()
        return src, tgt, batch["src"].size(1), batch["tgt"].size(1) - 1
    x = batch[0]
    return 0, x.numel(), 0, x.size(1)


def batch_tokens(batch: Any) -> Any:
    """Target-side tokens a training batch teaches (non-pad targets for seq2seq, all for LM)."""
    return batch_shape(batch)[1]


class Throughput(L.Callback):
    """Training tokens/s and model FLOPs utilization, to every logger and into results.json.

    Timing runs from the end of the first training batch (which pays for lazy initialisation
    and ``torch.compile``) and pauses while validation runs; data loading counts. Logged every
    ``trainer.log_every_n_steps`` as ``train/tokens_per_s`` (all devices: this rank's rate ×
    world size) and ``train/mfu`` (per device) over the steps since the last log.

    Args:
        peak_flops: Peak FLOP/s of one device; None measures a large matmul in the training
            dtype once and caches the figure in ``cache_dir`` (as seqlab-plan does).
        cache_dir: Where the measured peak is cached.
    """

    def __init__(self, peak_flops: float | None = None, cache_dir: str | None = None):
        self.peak_flops, self.cache_dir = peak_flops, cache_dir
        self.peak: float | None = None
        self.peak_source = "not measured"
        self.flops_model: ModelFlops | None = None
        self.world = 1
        self.tokens = 0.0  # totals over the timed steps
        self.flops = 0.0
        self.seconds = 0.0
        self._window_tokens: Any = 0  # since the last log; may be device tensors
        self._window_flops: Any = 0
        self._window_seconds = 0.0
        self._last: float | None = None  # end of the previous timed batch; None = paused

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from seqlab.planning.hardware import peak_flops, precision

        net = getattr(pl_module, "net", pl_module)
        self.flops_model = ModelFlops.of(net)
        self.world = trainer.world_size
        if trainer.is_global_zero:
            dtype = precision(trainer.precision)[1].dtype
            cache = self.cache_dir or "~/.cache/seqlab"
            self.peak, self.peak_source = peak_flops(
                self.peak_flops, pl_module.device.type, dtype, cache
            )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            src, tgt, src_len, tgt_len = batch_shape(batch)
            self._window_tokens = self._window_tokens + tgt
            self._window_flops = self._window_flops + self.flops_model.step(
                src, tgt, src_len, tgt_len
            )
            self._window_seconds += now - self._last
        if self._window_seconds > 0 and logs_this_step(trainer):
            self._flush(trainer)
        self._last = time.perf_counter()

    def _flush(self, trainer: L.Trainer | None = None) -> None:
        """Reads the window's counts (one host sync), adds them to the totals and logs the rates.

        Straight to the loggers, as LearningRateMonitor does: ``pl_module.log`` would cost about
        a millisecond per call in Lightning's result bookkeeping.
        """
        tokens, flops = float(self._window_tokens), float(self._window_flops)
        seconds = self._window_seconds
        self.tokens += tokens
        self.flops += flops
        self.seconds += seconds
        self._window_tokens, self._window_flops, self._window_seconds = 0, 0, 0.0
        if trainer is None:
            return
        metrics = {"train/tokens_per_s": tokens * self.world / seconds}
        if self.peak:
            metrics["train/mfu"] = flops / seconds / self.peak
        step = trainer.fit_loop.epoch_loop._batches_that_stepped  # the step Lightning logs at
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)

    def _pause(self, *args: Any) -> None:
        self._last = None

    def _resume(self, *args: Any) -> None:
        if self.seconds + self._window_seconds > 0 or self._window_tokens:
            self._last = time.perf_counter()

    on_validation_start = _pause
    on_validation_end = _resume
    on_train_epoch_start = _resume

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._window_seconds > 0:
            self._flush()  # the totals only: the last steps' rates were not due for logging

    @property
    def tokens_per_s(self) -> float:
        """Training tokens per second over the whole run, all devices."""
        return self.tokens * self.world / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """What results.json records under ``throughput``."""
        flops_per_s = self.flops / self.seconds if self.seconds else None
        return {
            "tokens_per_s": round(self.tokens_per_s, 1),
            "timed_seconds": round(self.seconds, 3),
            "devices": self.world,
            "flops_per_token": self.flops / self.tokens if self.tokens else None,
            "flops_method": self.flops_model.method if self.flops_model else None,
            "flops_per_s_per_device": flops_per_s,
            "peak_flops": self.peak,
            "peak_source": self.peak_source,
            "mfu": flops_per_s / self.peak if flops_per_s and self.peak else None,
        }
