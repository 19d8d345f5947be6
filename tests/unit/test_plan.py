"""Tests for seqlab.planning.plan: the FLOP and memory ledgers against real CPU steps, then data and steps.

Measured figures:
- FLOPs: ``FlopCounterMode`` over one forward + loss + backward. It does not see inside CPU
  flash attention, so SDPA runs its math backend there, whose QKᵀ and AV are plain bmm calls.
- Saved activations: every floating tensor autograd packs for backward (``saved_tensors_hooks``),
  each storage once, parameters excluded.
- Peak memory: ``LivePeak`` below counts the bytes of CPU tensor storages alive at once over a
  whole optimizer step (after a first step has created AdamW's states). It follows storages, not
  the allocator, so it is deterministic and independent of allocator caching.
"""

from __future__ import annotations

import contextlib
import functools
import math
import weakref

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from seqlab.errors import SeqlabError
from seqlab.planning.architectures import Shapes, forward_cost, generation_flops
from seqlab.planning.hardware import PRECISIONS, peak_flops, precision, world_size
from seqlab.planning.memory import memory_per_device
from seqlab.planning.plan import _steps, make_plan

LM = ["task=lm", "data=tinyshakespeare", "tokenizer=char", "task.block_size=32"]
ARCHS = {
    "gpt": ["model=gpt", *LM],
    "gru_lm": ["model=gru_lm", *LM],
    "transformer": ["model=transformer_seq2seq"],
    "gru_bahdanau": ["model=gru_seq2seq"],
    "gru_luong": ["model=gru_seq2seq", "model.net.attention=luong"],
    "gru_none": ["model=gru_seq2seq", "model.net.attention=none"],
    "lstm_lm": ["model=lstm_lm", *LM],
    "lstm_bahdanau": ["model=lstm_seq2seq"],
    "lstm_luong": ["model=lstm_seq2seq", "model.net.attention=luong"],
    "lstm_none": ["model=lstm_seq2seq", "model.net.attention=none"],
}
CASES = [(arch, size) for arch in ARCHS for size in ("tiny", "small")]
SRC_VOCAB, TGT_VOCAB = 150, 200
B, S, T, PADS = 6, 11, 13, 4  # seq2seq batch; the first source ends in PADS pads


pytestmark = pytest.mark.usefixtures("one_thread")


def compose_train(*overrides: str):
    with initialize_config_module("seqlab.conf", version_base="1.3"):
        return compose("train", overrides=list(overrides))


@functools.cache
def net_config(arch: str, size: str) -> dict:
    return OmegaConf.to_container(
        compose_train(*ARCHS[arch], f"size={size}").model.net, resolve=True
    )


def build(arch: str, size: str):
    """(net config, model in train mode, loss closure, shapes, vocab) for one batch."""
    torch.manual_seed(0)
    net = net_config(arch, size)
    if arch in ("gpt", "gru_lm", "lstm_lm"):
        model = instantiate(net, vocab_size=SRC_VOCAB).train()
        x = torch.randint(0, SRC_VOCAB, (4, 32))
        return (
            net,
            model,
            lambda: F.cross_entropy(model(x).flatten(0, 1), x.flatten()),
            Shapes(4, 32),
            SRC_VOCAB,
        )
    model = instantiate(net, src_vocab_size=SRC_VOCAB, tgt_vocab_size=TGT_VOCAB, pad_id=0).train()
    src = torch.randint(3, SRC_VOCAB, (B, S))
    src[0, S - PADS :] = 0
    tgt = torch.randint(3, TGT_VOCAB, (B, T))
    loss = lambda: F.cross_entropy(model(src, tgt).flatten(0, 1), tgt.flatten())  # noqa: E731
    return net, model, loss, Shapes(B, T, S, B * S - PADS), (SRC_VOCAB, TGT_VOCAB)  # fmt: skip


class LivePeak(TorchDispatchMode):
    """Peak bytes of tensor storages alive at once: the given tensors plus every op output."""

    def __init__(self, *tensors: torch.Tensor):
        super().__init__()
        self.live: dict[int, int] = {}
        self.current = self.peak = 0
        for t in tensors:
            self._track(t)

    def _free(self, ptr: int) -> None:
        self.current -= self.live.pop(ptr, 0)

    def _track(self, t) -> None:
        if not isinstance(t, torch.Tensor):
            return
        storage = t.untyped_storage()
        ptr, nbytes = storage.data_ptr(), storage.nbytes()
        if nbytes and ptr not in self.live:
            self.live[ptr] = nbytes
            self.current += nbytes
            self.peak = max(self.peak, self.current)
            weakref.finalize(storage, self._free, ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            self._track(t)
        return out


@contextlib.contextmanager
def reference_kernels():
    """ATen's own RNN kernels: oneDNN's fused CPU LSTM runs its matmuls where FlopCounterMode
    cannot see them (an LSTM's FLOPs are the same either way) and keeps its gates in a byte
    workspace, fewer bytes than the estimate (which counts ATen's kernel, the larger)."""
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled


@pytest.mark.parametrize(("arch", "size"), CASES)
def test_training_flops_match_flop_counter(arch, size):
    net, _, loss, shapes, vocab = build(arch, size)
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter, reference_kernels():
        loss().backward()
    estimate = 3 * forward_cost(net, vocab, shapes).flops
    assert estimate == pytest.approx(counter.get_total_flops(), rel=0.10)


@pytest.mark.parametrize(("arch", "size"), CASES)
def test_saved_activations_match_autograd(arch, size):
    net, model, loss, shapes, vocab = build(arch, size)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if t.is_floating_point() and storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), reference_kernels():
        loss()
    cost = forward_cost(net, vocab, shapes, cpu=True)
    assert 4 * (cost.saved + cost.masks) == pytest.approx(sum(saved.values()), rel=0.05)


@pytest.mark.parametrize(("arch", "size"), CASES)
def test_peak_memory_matches_a_real_cpu_step(arch, size):
    net, model, loss, shapes, vocab = build(arch, size)
    optimizer = torch.optim.AdamW(model.parameters())

    def step() -> None:
        optimizer.zero_grad()
        loss().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    step()  # creates AdamW's states
    optimizer.zero_grad()
    states = [t for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    with LivePeak(*model.parameters(), *states) as tracker, reference_kernels():
        step()
    sizes = [p.numel() for p in model.parameters()]
    out_vocab = vocab if isinstance(vocab, int) else vocab[1]
    cost = forward_cost(net, vocab, shapes, cpu=True)
    estimate = memory_per_device(
        cost, shapes, out_vocab, sum(sizes), PRECISIONS["32-true"], largest=max(sizes)
    )
    assert estimate["peak"] == pytest.approx(tracker.peak, rel=0.30)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_generation_flops_match_incremental_decoding(arch):
    net, model, _, shapes, vocab = build(arch, "tiny")
    model.eval()
    counter = FlopCounterMode(display=False)
    tokens = torch.ones(1, dtype=torch.long)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter, reference_kernels():
        if isinstance(vocab, int):
            _, state = model.prefill(tokens[:, None])
            for _ in range(shapes.tgt_len - 1):
                _, state = model.step(tokens, state)
        else:
            state = model.init_state(model.encode(torch.randint(3, SRC_VOCAB, (1, S))))
            for _ in range(T):
                _, state = model.step(tokens, state)
    src_len = 0 if isinstance(vocab, int) else S
    estimate = generation_flops(net, vocab, src_len, shapes.tgt_len) * shapes.tgt_len
    assert estimate == pytest.approx(counter.get_total_flops(), rel=0.10)


def plan_for(data_root, cache_dir, *overrides: str) -> dict:
    cfg = compose_train(
        f"paths.data_dir={data_root}", f"paths.cache_dir={cache_dir}", "++plan.peak_flops=1e11",
        *overrides,
    )  # fmt: skip
    return make_plan(cfg)


def test_lm_plan_from_files_then_from_the_cache(data_root, tmp_path):
    estimated = plan_for(data_root, tmp_path, "experiment=shakespeare_gpt")
    assert estimated["data"]["source"] == "files"
    exact = plan_for(data_root, tmp_path, "experiment=shakespeare_gpt", "++plan.prepare_data=true")
    assert exact["data"] == {"source": "cache", "train_tokens": 1003854, "train_examples": None}
    assert estimated["data"]["train_tokens"] == pytest.approx(1003854, rel=0.01)
    assert exact["steps"] == {"per_epoch": 1003854 // (12 * 64), "total": 2000}
    net = net_config("gpt", "small") | {"block_size": 64, "dropout": 0.0, "bias": False}
    step = 3 * forward_cost(net, exact["vocab"]["text"], Shapes(12, 64)).flops
    assert exact["flops"]["per_step"] == pytest.approx(step)
    assert exact["flops"]["train_per_token"] == pytest.approx(step / (12 * 64))
    assert exact["time"]["per_step_s"] == pytest.approx(step / (1e11 * 0.4), rel=1e-3)
    assert exact["time"]["total_s"] == pytest.approx(2000 * exact["time"]["per_step_s"], rel=1e-3)


def test_data_parallel_plans_are_per_device(data_root, tmp_path):
    one = plan_for(data_root, tmp_path, "experiment=multi30k_transformer")
    two = plan_for(data_root, tmp_path, "experiment=multi30k_transformer", "trainer=ddp_cpu")
    assert two["devices"]["count"] == 2 and two["devices"]["strategy"] == "ddp"
    assert two["flops"]["per_step"] == pytest.approx(one["flops"]["per_step"])
    assert two["steps"]["per_epoch"] == math.ceil(one["steps"]["per_epoch"] / 2)
    assert two["memory"]["buckets"] == one["memory"]["gradients"]  # the all-reduce's copy
    assert two["memory"]["peak"] == one["memory"]["peak"] + two["memory"]["buckets"]
    lm_one = plan_for(data_root, tmp_path, "experiment=shakespeare_gpt")
    lm_two = plan_for(data_root, tmp_path, "experiment=shakespeare_gpt", "trainer=ddp_cpu")
    assert lm_two["steps"] == lm_one["steps"]  # every rank draws an epoch of windows
    fsdp = plan_for(
        data_root, tmp_path, "experiment=multi30k_transformer", "trainer=fsdp", "trainer.devices=4"
    )
    assert fsdp["memory"]["optimizer"] == pytest.approx(one["memory"]["optimizer"] / 4, abs=1)
    assert fsdp["devices"]["precision"] == "bf16-mixed"


def test_uncached_generated_data_uses_the_plan_defaults(data_root, tmp_path):
    plan = plan_for(data_root, tmp_path, "data=scan")
    assert plan["data"] == {"source": "assumed", "train_tokens": None, "train_examples": None}
    assert plan["steps"] == {"per_epoch": None, "total": None}
    assert plan["time"]["per_epoch_s"] is None and plan["time"]["per_step_s"] > 0
    assert plan["vocab"] == {"src": 10000, "tgt": 10000}


def test_steps_follow_lightning_limits():
    trainer = {"max_epochs": 3, "max_steps": -1, "limit_train_batches": 0.5}
    assert _steps({**trainer, "accumulate_grad_batches": 2}, 101) == (25, 75)
    assert _steps({"max_epochs": -1, "max_steps": 40}, 10) == (10, 40)
    assert _steps({"max_epochs": 2, "max_steps": 5, "limit_train_batches": 4}, 10) == (4, 5)
    assert _steps({"max_epochs": -1, "max_steps": -1}, 10) == (10, None)
    assert _steps({"max_epochs": 2}, None) == (None, None)


def test_steps_of_debug_runs():
    """debug=fast and debug=overfit plan the steps Lightning will run, not the full run's."""
    full = {"max_epochs": 20, "max_steps": -1, "limit_train_batches": None}
    assert _steps({**full, "fast_dev_run": True}, 249) == (1, 1)
    assert _steps({**full, "fast_dev_run": 3}, 249) == (3, 3)
    assert _steps({**full, "fast_dev_run": 4, "accumulate_grad_batches": 2}, 249) == (2, 2)
    assert _steps({**full, "overfit_batches": 2}, 249) == (2, 40)
    assert _steps({**full, "overfit_batches": 0.1}, 250) == (25, 500)


def test_peak_flops_is_measured_once_and_cached(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "seqlab.planning.hardware.measure_peak_flops", lambda *a: calls.append(a) or 5e10
    )
    assert peak_flops(None, "cpu", torch.float32, tmp_path) == (5e10, "measured")
    assert peak_flops(None, "cpu", torch.float32, tmp_path) == (5e10, "cached")
    assert peak_flops(2e12, "cuda", torch.bfloat16, tmp_path) == (2e12, "config")
    assert len(calls) == 1 and (tmp_path / "peak_flops.json").is_file()
    # float32 matmuls from bfloat16 inputs are another peak: measured, not the cached one.
    torch.set_float32_matmul_precision("medium")
    try:
        assert peak_flops(None, "cpu", torch.float32, tmp_path) == (5e10, "measured")
    finally:
        torch.set_float32_matmul_precision("highest")
    assert len(calls) == 2 and peak_flops(None, "cpu", torch.float32, tmp_path)[1] == "cached"
    if not torch.cuda.is_available():
        assert peak_flops(None, "cuda", torch.bfloat16, tmp_path)[0] is None


def test_precision_and_devices():
    assert precision(32)[0] == "32-true" and precision("bf16")[0] == "bf16-mixed"
    with pytest.raises(SeqlabError, match="trainer.precision"):
        precision("8-bit")
    assert world_size({"devices": [0, 1, 2], "num_nodes": 2}) == (6, True)
    assert world_size({"accelerator": "cpu", "devices": 2}) == (2, True)
    if not torch.cuda.is_available():
        assert world_size({"accelerator": "gpu", "devices": -1}) == (1, False)
