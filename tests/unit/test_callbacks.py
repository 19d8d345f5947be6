"""Throughput / MFU callback, step-metric cadence, the fused optimizer choice and the NaN guard."""

import csv
import functools
import math

import lightning as L
import pytest
import torch

from seqlab.callbacks.precision import MatmulPrecision
from seqlab.callbacks.throughput import ModelFlops, Throughput, batch_shape
from seqlab.data.tokenizers import PAD_ID
from seqlab.errors import SeqlabError
from seqlab.lit.lm import LanguageModelModule
from seqlab.lit.loggers import CSVLogger
from seqlab.lit.optim import build_optimizer, cosine_schedule
from seqlab.models import GPT, RNNSeq2Seq, TransformerSeq2Seq
from seqlab.runs.results import collect_results

pytestmark = pytest.mark.usefixtures("one_thread")


def test_gpt_flops_are_nanogpts_6n_plus_attention():
    vocab, block, layers, width = 65, 64, 4, 128
    net = GPT(vocab, block, layers, 4, width, bias=False)
    flops = ModelFlops.of(net)
    # Blocks: qkv 3d², out d², MLP 8d², LayerNorm weights 2d; final LayerNorm d; tied head V·d.
    n = layers * (12 * width**2 + 2 * width) + width + vocab * width
    assert (flops.encoder, flops.decoder) == (0, n)
    per_token = 6 * n + 12 * layers * width * block  # PaLM appendix B, nanoGPT's estimate_mfu
    assert flops.step(0, 12 * block, 0, block) == per_token * 12 * block
    assert "PaLM" in flops.method


def test_encoder_decoder_counts_each_side_on_its_own_tokens():
    net = TransformerSeq2Seq(
        50, 60, d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=64
    )
    flops = ModelFlops.of(net)
    assert flops.encoder > 0 and flops.decoder > 0
    assert (flops.encoder_attention, flops.decoder_attention, flops.cross_attention) == (64, 64, 64)
    src_tokens, tgt_tokens, src_len, tgt_len = 30, 20, 8, 6
    expected = (6 * flops.encoder + 12 * 64 * src_len) * src_tokens
    expected += (6 * flops.decoder + 12 * 64 * tgt_len + 12 * 64 * src_len) * tgt_tokens
    assert flops.step(src_tokens, tgt_tokens, src_len, tgt_len) == expected


def test_gru_flops_are_parameter_based():
    net = RNNSeq2Seq(40, 50, embed_dim=16, hidden_size=24)
    flops = ModelFlops.of(net)
    assert flops.cross_attention == flops.decoder_attention == 0
    assert flops.step(10, 0, 5, 0) == 6 * flops.encoder * 10
    assert "parameters only" in flops.method


def test_seq2seq_batches_count_real_tokens_without_leaving_the_device():
    lengths = torch.tensor([3, 5])
    batch = {
        "src": torch.full((2, 5), PAD_ID),
        "tgt": torch.full((2, 6), PAD_ID),
        "src_lengths": lengths,
        "tgt_lengths": lengths + 1,
    }
    src, tgt, src_len, tgt_len = batch_shape(batch)
    assert isinstance(src, torch.Tensor) and isinstance(tgt, torch.Tensor)
    assert (int(src), int(tgt), src_len, tgt_len) == (8, 8, 5, 5)


class Windows(torch.utils.data.IterableDataset):
    def __iter__(self):
        gen = torch.Generator().manual_seed(0)
        for _ in range(12):
            chunk = torch.randint(0, 20, (4, 9), generator=gen)
            yield chunk[:, :-1], chunk[:, 1:]


def _fit(tmp_path, log_every: int, peak: float | None = 1e12):
    net = GPT(20, 8, n_layer=1, n_head=2, n_embd=16)
    module = LanguageModelModule(
        net=net,
        optimizer=functools.partial(torch.optim.AdamW, lr=1e-3, fused=None),
        scheduler=functools.partial(cosine_schedule, warmup_steps=2),
    )
    throughput = Throughput(peak_flops=peak, cache_dir=str(tmp_path / "cache"))
    trainer = L.Trainer(
        accelerator="cpu", max_steps=12, logger=CSVLogger(tmp_path, name="", version=""),
        callbacks=[throughput], log_every_n_steps=log_every, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(Windows(), batch_size=None))
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    return trainer, module, throughput, rows


def test_throughput_and_mfu_reach_the_loggers_and_results(tmp_path):
    trainer, module, throughput, rows = _fit(tmp_path, log_every=4)
    logged = [r for r in rows if r.get("train/mfu")]
    assert [int(r["step"]) for r in logged] == [3, 7, 11]
    assert all(float(r["train/tokens_per_s"]) > 0 for r in logged)
    summary = throughput.summary()
    per_token = ModelFlops.of(module.net).step(0, 1, 0, 8)
    assert summary["flops_per_token"] == pytest.approx(per_token)
    assert throughput.tokens == 11 * 4 * 8  # the first step (warm-up) is not timed
    assert summary["peak_source"] == "config" and summary["peak_flops"] == 1e12
    assert summary["mfu"] == pytest.approx(summary["flops_per_s_per_device"] / 1e12)
    assert summary["tokens_per_s"] == pytest.approx(throughput.tokens / throughput.seconds, 0.01)

    results = collect_results(trainer, {}, "run", tmp_path, {"total": 1}, 0.0, {})
    assert results["throughput"]["mfu"] == summary["mfu"]
    assert results["train_tokens_per_s"] == summary["tokens_per_s"]


def test_train_loss_is_logged_at_the_logging_steps_only(tmp_path):
    _, _, _, rows = _fit(tmp_path, log_every=5, peak=None)
    steps = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert steps == [4, 9]
    assert all(math.isfinite(float(r["train/loss"])) for r in rows if r.get("train/loss"))


def test_peak_is_measured_once_and_cached(tmp_path):
    _, _, throughput, _ = _fit(tmp_path, log_every=4, peak=None)
    assert throughput.peak_source in ("measured", "cached") and throughput.peak > 0
    assert (tmp_path / "cache" / "peak_flops.json").is_file()


class MatmulLevels(L.Callback):
    """Records the float32 matmul precision each training step runs under."""

    def __init__(self):
        self.levels = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        flash = torch.backends.cuda.flash_sdp_enabled()
        self.levels.append((torch.get_float32_matmul_precision(), flash))


# (CPU level, trainer precision, flash attention on): flash is off for float32 at "medium".
@pytest.mark.parametrize(
    "level,precision,flash",
    [("medium", "32-true", False), ("highest", "32-true", True), ("highest", "bf16-mixed", True)],
)
def test_cpu_matmul_precision_holds_for_the_run_then_is_restored(level, precision, flash):
    before = torch.get_float32_matmul_precision()
    assert before == "highest"  # PyTorch's default; a leak from another test would show here
    seen = MatmulLevels()
    module = LanguageModelModule(
        net=GPT(20, 8, n_layer=1, n_head=2, n_embd=16),
        optimizer=functools.partial(torch.optim.AdamW, lr=1e-3),
    )
    trainer = L.Trainer(
        accelerator="cpu", max_steps=3, logger=False, enable_checkpointing=False,
        precision=precision, callbacks=[MatmulPrecision(float32="high", cpu_float32=level), seen],
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(Windows(), batch_size=None))
    assert seen.levels == [(level, flash)] * 3  # the CPU level, not the CUDA one
    assert torch.get_float32_matmul_precision() == before
    assert torch.backends.cuda.flash_sdp_enabled()


def test_matmul_precision_rejects_an_unknown_level():
    key = "'callbacks.matmul_precision.float32': 'fast' is not a level"
    with pytest.raises(SeqlabError, match=key):
        MatmulPrecision(float32="fast")


def test_fused_adamw_when_the_config_leaves_it_open():
    net = torch.nn.Linear(4, 4)
    adamw = functools.partial(torch.optim.AdamW, lr=1e-3, foreach=None, fused=None)
    assert build_optimizer(adamw, net).defaults["fused"] is True
    assert not build_optimizer(adamw, net, allow_fused=False).defaults["fused"]
    foreach = functools.partial(torch.optim.AdamW, lr=1e-3, foreach=True, fused=None)
    assert not build_optimizer(foreach, net).defaults["fused"]
    sgd = functools.partial(torch.optim.SGD, lr=0.1)
    assert "fused" not in sgd.keywords and build_optimizer(sgd, net)


class ClippedNorms(L.Callback):
    """Records the gradient norm each optimizer step applies: measured when Lightning's closure
    (forward, backward, clipping) returns inside ``optimizer.step``."""

    def __init__(self):
        self.norms, self.fused = [], None

    def on_train_start(self, trainer, pl_module):
        optimizer = trainer.optimizers[0]
        self.fused = optimizer.defaults.get("fused")
        params = [p for group in optimizer.param_groups for p in group["params"]]

        def measure_after_closure(_, args, kwargs):
            closure = kwargs["closure"]

            def measured():
                loss = closure()
                grads = [p.grad for p in params if p.grad is not None]
                self.norms.append(float(torch.nn.utils.get_total_norm(grads)))
                return loss

            return args, {**kwargs, "closure": measured}

        optimizer.register_step_pre_hook(measure_after_closure)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_bf16_mixed_keeps_the_fused_optimizer_and_clips_its_gradients(algorithm):
    """Lightning refuses to clip a fused optimizer under any mixed precision; bf16 scales no
    gradients, so seqlab keeps the fused kernel there and clips itself."""
    net = GPT(20, 8, n_layer=1, n_head=2, n_embd=16)
    module = LanguageModelModule(
        net=net, optimizer=functools.partial(torch.optim.AdamW, lr=1e-3, fused=None)
    )
    norms = ClippedNorms()
    trainer = L.Trainer(
        accelerator="cpu", precision="bf16-mixed", max_steps=3, logger=False,
        callbacks=[norms], gradient_clip_val=1e-3, gradient_clip_algorithm=algorithm,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(Windows(), batch_size=None))
    assert norms.fused is True and len(norms.norms) == 3
    n_params = sum(p.numel() for p in net.parameters())
    bound = 1e-3 if algorithm == "norm" else 1e-3 * n_params**0.5
    assert all(0 < n <= bound * 1.001 for n in norms.norms), (norms.norms, bound)


def test_seqlab_clips_fused_gradients_only_under_unscaled_autocast():
    """bf16-mixed (one device, DDP) is seqlab's to clip; 16-mixed keeps its scaler rule and FSDP
    its own sharded norm, so both stay with Lightning."""
    from types import SimpleNamespace

    from lightning.pytorch.plugins.precision import FSDPPrecision, MixedPrecision

    module = LanguageModelModule(net=GPT(20, 8, n_layer=1, n_head=2, n_embd=16), optimizer=None)
    plugins = {
        "bf16-mixed": MixedPrecision("bf16-mixed", "cpu"),
        "16-mixed": MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu")),
        "fsdp bf16-mixed": FSDPPrecision("bf16-mixed"),
    }
    decided = {}
    for name, plugin in plugins.items():
        module._trainer = SimpleNamespace(precision_plugin=plugin)
        decided[name] = module._unscaled_autocast()
    assert decided == {"bf16-mixed": True, "16-mixed": False, "fsdp bf16-mixed": False}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2.5])
def test_non_finite_cpu_loss_stops_before_the_update(value):
    from types import SimpleNamespace

    from seqlab.callbacks.nonfinite import StopOnNonFinite
    from seqlab.errors import SeqlabError

    trainer = SimpleNamespace(global_step=7, current_epoch=0, checkpoint_callback=None)
    guard, loss = StopOnNonFinite(), torch.tensor(value, requires_grad=True)
    if math.isfinite(value):
        guard.on_before_backward(trainer, None, loss)
        return
    with pytest.raises(SeqlabError) as e:
        guard.on_before_backward(trainer, None, loss)
    assert str(e.value).startswith(f"training loss is {value} at step 7 (epoch 0); stopped before")
    assert str(e.value).endswith(
        "no checkpoint yet; lower optimizer.lr or lengthen scheduler.warmup_steps"
    )
