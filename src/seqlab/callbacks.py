"""Lightning callbacks of seqlab's own: training throughput and model FLOPs utilization (MFU), and
process settings for the run (matmul precision, host memory reuse).

Nothing here reads a value from the device on every step: token and FLOP counts add up on the
device and are read once per ``trainer.log_every_n_steps``, when the metrics go to the loggers.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import lightning as L
import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.host_memory import keep_freed_memory
from seqlab.models.transformer import MultiHeadAttention


def logs_this_step(trainer: L.Trainer | None) -> bool:
    """Whether this training step's metrics reach the loggers (every ``log_every_n_steps``).

    Logging only then keeps ``self.log`` off the other steps, and with it Lightning's per-call
    bookkeeping; the loggers receive exactly the same values.
    """
    if trainer is None:
        return True
    # The property Lightning itself uses to decide (and its LearningRateMonitor too).
    return bool(trainer.fast_dev_run) or trainer._logger_connector.should_update_logs


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
    token. Recurrent models (GRU) get the parameter term only: their attention (Bahdanau, Luong)
    is not counted, so their MFU is a slight underestimate.

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


_MATMUL_LEVELS = ("highest", "high", "medium")


def cpu_flash_attention_pays(matmul_level: str) -> bool:
    """Whether PyTorch's CPU flash attention beats its math path: not for float32 tensors at the
    "medium" level, where its small block products were 8-12x slower (head size 32) and the
    whole step 10 % slower at width 512. (Under bf16 precision it stays: slower than the math
    path at width 128, faster at 512, where bf16 pays at all.)"""
    return matmul_level != "medium"


class MatmulPrecision(L.Callback):
    """How float32 matmuls may trade precision for speed, per device kind, for the run's length.

    Both settings go through ``torch.set_float32_matmul_precision``: "highest" is exact float32;
    "high" uses TF32 where the hardware has it (Ampere or newer GPUs: Lightning's recommendation;
    CPUs with AMX-TF32), else float32; "medium" multiplies bfloat16-rounded inputs with float32
    sums (on CPU, oneDNN does this on AMX or AVX512-BF16 units: about 2x the float32 rate). A CPU
    run at "medium" also turns PyTorch's flash attention off for its length
    (``cpu_flash_attention_pays``): its small block products are slow at that level, where the
    math attention's gain like any matmul. The CPU default stays exact so CPU results compare
    across machines and with other tools; the previous settings come back when the run ends, so
    runs in one process do not inherit them.

    Args:
        float32: the level for CUDA runs.
        cpu_float32: the level for CPU runs.
    """

    def __init__(self, float32: str = "high", cpu_float32: str = "highest"):
        for key, value in (("float32", float32), ("cpu_float32", cpu_float32)):
            if value not in _MATMUL_LEVELS:
                raise SeqlabError(
                    f"config key 'callbacks.matmul_precision.{key}': {value!r} is not a level; "
                    f"use one of {', '.join(_MATMUL_LEVELS)}"
                )
        self.float32, self.cpu_float32 = float32, cpu_float32
        self._previous: str | None = None
        self._flash_was: bool | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        level = {"cuda": self.float32, "cpu": self.cpu_float32}.get(pl_module.device.type)
        if level is None:
            return
        try:  # unreadable when other code mixed PyTorch's per-backend settings in: leave it then
            previous = torch.get_float32_matmul_precision()
        except RuntimeError:
            return
        if previous != level:
            self._previous = previous
            torch.set_float32_matmul_precision(level)
        if pl_module.device.type == "cpu" and not cpu_flash_attention_pays(level):
            # One switch for every device's SDPA backend choice, despite its module's name.
            self._flash_was = torch.backends.cuda.flash_sdp_enabled()
            torch.backends.cuda.enable_flash_sdp(False)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._previous is not None:
            torch.set_float32_matmul_precision(self._previous)
            self._previous = None
        if self._flash_was is not None:
            torch.backends.cuda.enable_flash_sdp(self._flash_was)
            self._flash_was = None


class KeepFreedMemory(L.Callback):
    """Applies `seqlab.host_memory.keep_freed_memory` when a run is set up (fit, validate, test):
    the step no longer re-faults the pages of buffers it freed in the step before.

    Args:
        trim_threshold_mb: As `keep_freed_memory`.
        mmap_threshold_mb: As `keep_freed_memory`.
        map_large_blocks: As `keep_freed_memory` (False: large logits reuse heap memory).
    """

    def __init__(
        self,
        trim_threshold_mb: int = 512,
        mmap_threshold_mb: int = 32,
        map_large_blocks: bool = False,
    ):
        self.trim_threshold_mb, self.mmap_threshold_mb = trim_threshold_mb, mmap_threshold_mb
        self.map_large_blocks = map_large_blocks

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not isinstance(self.map_large_blocks, bool):
            raise SeqlabError(
                "config key 'callbacks.host_memory.map_large_blocks': expected true or false, "
                f"got {self.map_large_blocks!r}"
            )
        try:
            keep_freed_memory(self.trim_threshold_mb, self.mmap_threshold_mb, self.map_large_blocks)
        except ValueError as e:
            raise SeqlabError(f"config key 'callbacks.host_memory': {e}") from None
