"""Seq2seq training throughput on Multi30k: GRU and Transformer, tiny and small, and a plain loop.

Each model trains through seqlab's real DataModule (length buckets, at most 128 sentences and
4096 tokens per batch), LightningModule, optimizer, schedule, loggers and step callbacks
(`experiment=multi30k_gru_attention` / `multi30k_transformer` at `size=tiny|small`). Reported
per model: ms per step, target tokens/s (non-pad targets: what the loss teaches), source + target
tokens/s and MFU from the Throughput callback's estimate (6N + attention; GRUs: 6N only).

Baseline: the tiny Transformer in a hand-written loop (same network, batches, optimizer,
schedule, clipping, label smoothing), interleaved step by step with seqlab's tiny Transformer as
in lm_training.py, so their ratio holds on a busy machine. The other rows run one after another.

``--scan``: the main job's step instead (``experiment=scan_gru_attention``, SCAN's batches of 64),
three loops interleaved on the same batches: seqlab's, a plain loop over the same network, and the
hand-written tutorial model of experiments/scan/handwritten.py (one GRU layer of 128, an nn.GRU
call per decoder step). Ratios are medians of step-by-step ratios against the plain loop.

    python experiments/benchmarks/seq2seq_training.py [--steps 60] [--data-dir DIR] [--quick]
    python experiments/benchmarks/seq2seq_training.py --scan [--steps 200]
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path

import torch
import torch.nn.functional as F
from common import benchmark_parser
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from lm_training import WARMUP, Baton, StepHook, Turns

from seqlab.callbacks.throughput import ModelFlops, batch_shape
from seqlab.data.tokenizers import PAD_ID
from seqlab.lit.build import build_datamodule, build_module, build_net
from seqlab.lit.optim import build_optimizer
from seqlab.planning.hardware import measure_peak_flops

MODELS = {  # row → overrides
    "GRU + Bahdanau, tiny": ["experiment=multi30k_gru_attention", "size=tiny"],
    "GRU + Bahdanau, small": ["experiment=multi30k_gru_attention", "size=small"],
    "Transformer, tiny": ["experiment=multi30k_transformer", "size=tiny"],
    "Transformer, small": ["experiment=multi30k_transformer", "size=small"],
}
BASELINE = "Transformer, tiny"
SCAN = ["experiment=scan_gru_attention"]


class Recorder(StepHook):
    """A StepHook that also keeps each step's token and FLOP counts (read after the run)."""

    def __init__(self, turns: Turns):
        super().__init__(turns)
        self.counts = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.counts.append(batch_shape(batch))
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def seqlab_loop(cfg, steps: int, turns: Turns, counts: dict) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    module = build_module(
        cfg, datamodule.tokenizer_states(), build_net(cfg.model, datamodule.tokenizers)
    )
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    # Every configured callback but checkpointing (no checkpoints are written in timed steps).
    callbacks = [
        instantiate(c)
        for k, c in (cfg.get("callbacks") or {}).items()
        if c and k != "model_checkpoint"
    ]
    recorder = Recorder(turns)
    trainer = instantiate(
        cfg.trainer, max_steps=steps, logger=loggers or False, callbacks=[*callbacks, recorder],
        enable_checkpointing=False, limit_val_batches=0,
    )  # fmt: skip
    turns.begin()
    trainer.fit(module, datamodule=datamodule)
    counts["steps"], counts["flops"] = recorder.counts, ModelFlops.of(module.net)


def plain_loop(cfg, steps: int, turns: Turns, counts: dict) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    net = build_net(cfg.model, datamodule.tokenizers)
    optimizer = build_optimizer(instantiate(cfg.optimizer), net)
    scheduler = instantiate(cfg.scheduler)(optimizer, total_steps=steps)
    loader = datamodule.train_dataloader()
    batches, recorded = iter(loader), []
    turns.begin()
    for _ in range(steps):
        batch = next(batches)
        tgt_in, tgt_out = batch["tgt"][:, :-1], batch["tgt"][:, 1:]
        logits = net(batch["src"], tgt_in)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1), ignore_index=PAD_ID,
            label_smoothing=cfg.task.label_smoothing,
        )  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
        scheduler.step()
        recorded.append(batch_shape(batch))
        turns.step_done()
    counts["steps"], counts["flops"] = recorded, ModelFlops.of(net)


def handwritten_loop(cfg, steps: int, turns: Turns, counts: dict) -> None:
    """experiments/scan/handwritten.py's model and update on seqlab's batches (same ids)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scan"))
    from handwritten import Decoder, Encoder

    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    vocab = datamodule.tokenizers["tgt"].vocab_size
    enc, dec = Encoder(vocab, 128), Decoder(vocab, 128)
    params = [*enc.parameters(), *dec.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    batches, recorded = iter(datamodule.train_dataloader()), []
    turns.begin()
    for _ in range(steps):
        batch = next(batches)
        src, tgt = batch["src"], batch["tgt"]
        values, h = enc(src, batch["src_lengths"])
        keys, mask = dec.w_key(values), src != PAD_ID
        logits = []
        for t in range(tgt.size(1) - 1):
            step_logits, h = dec.step(tgt[:, t], h, keys, values, mask)
            logits.append(step_logits)
        loss = F.cross_entropy(torch.stack(logits, 1).flatten(0, 1), tgt[:, 1:].flatten(),
                               ignore_index=PAD_ID)  # fmt: skip
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        recorded.append(batch_shape(batch))
        turns.step_done()
    counts["steps"], counts["flops"] = recorded, ModelFlops.of(torch.nn.ModuleList([enc, dec]))


LOOPS = {"plain": plain_loop, "hand-written": handwritten_loop}


def run(cfgs: dict, steps: int) -> dict[str, dict]:
    """The loops in `cfgs` interleaved step by step; per loop: step times, counts, FLOP model."""
    baton = Baton(len(cfgs))
    turns = {name: Turns(baton, i) for i, name in enumerate(cfgs)}
    out = {name: {} for name in cfgs}
    errors = []

    def target(name: str) -> None:
        try:
            loop = next((f for k, f in LOOPS.items() if name.startswith(k)), seqlab_loop)
            loop(cfgs[name], steps, turns[name], out[name])
        except BaseException as e:
            errors.append(e)
        finally:
            baton.give(turns[name].i, finished=True)

    threads = [threading.Thread(target=target, args=(name,)) for name in cfgs]
    with contextlib.redirect_stdout(io.StringIO()):  # the progress bar writes to stdout
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    for name in cfgs:
        out[name]["times"] = turns[name].times
    return out


def summarize(res: dict, peak: float) -> dict:
    times, steps = res["times"][WARMUP:], res["steps"][WARMUP:]
    seconds = sum(times)
    src = sum(float(s[0]) for s in steps)
    tgt = sum(float(s[1]) for s in steps)
    flops = sum(float(res["flops"].step(*s)) for s in steps)
    return {
        "ms": statistics.median(times) * 1e3,
        "tgt_per_s": tgt / seconds,
        "all_per_s": (src + tgt) / seconds,
        "mfu": flops / seconds / peak,
        "method": res["flops"].method,
    }


def scan_rows(cfg, steps: int, peak: float) -> None:
    """The main job's step: seqlab vs the plain loop vs the hand-written model, interleaved."""
    names = ["seqlab, scan_gru_attention", "plain loop, same network", "hand-written, 1 x 128"]
    results = run(dict.fromkeys(names, cfg), steps)
    plain = results[names[1]]["times"][WARMUP:]
    print(f"{'loop':34s} {'ms/step':>8s} {'tgt tok/s':>10s} {'× plain':>8s}")
    for name in names:
        r = summarize(results[name], peak)
        mine = results[name]["times"][WARMUP:]
        ratio = statistics.median(a / b for a, b in zip(mine, plain, strict=True))
        print(f"{name:34s} {r['ms']:8.1f} {r['tgt_per_s']:10,.0f} {ratio:8.3f}")
    print("× plain: median over steps of the step-time ratio (all three train on the same batches)")


def main() -> None:
    parser = benchmark_parser(__doc__, "a few steps")
    parser.add_argument("--steps", type=int, default=60, help="training steps per model")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--scan", action="store_true", help="the main job's step (SCAN, GRU)")
    args = parser.parse_args()
    steps = 10 if args.quick else args.steps
    torch.set_num_threads(args.threads)
    os.environ["SEQLAB_DATA_DIR"] = str(args.data_dir)
    results = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        initialize_config_module("seqlab.conf", version_base="1.3"),
    ):
        if args.scan:
            cfg = compose("train", [*SCAN, f"paths.output_dir={tmp}/scan"])
            peak = measure_peak_flops("cpu", torch.float32, seconds=2.0)
            print(f"torch {torch.__version__}, {args.threads} threads, load average "
                  f"{os.getloadavg()[0]:.1f}; {steps - WARMUP} timed steps per loop")  # fmt: skip
            scan_rows(cfg, steps, peak)
            return
        cfgs = {name: compose("train", [*o, f"paths.output_dir={tmp}/{i}"])
                for i, (name, o) in enumerate(MODELS.items())}  # fmt: skip
        pair = {BASELINE: cfgs[BASELINE], f"plain loop, {BASELINE}": cfgs[BASELINE]}
        results.update(run(pair, steps))
        for name, cfg in cfgs.items():
            if name != BASELINE:
                results.update(run({name: cfg}, steps))
    peak = measure_peak_flops("cpu", torch.float32, seconds=2.0)
    print(f"torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.1f}; fp32 matmul peak {peak / 1e9:.0f} GFLOP/s; "
          f"{steps - WARMUP} timed steps per row")  # fmt: skip
    print(f"{'loop':34s} {'ms/step':>8s} {'tgt tok/s':>10s} {'all tok/s':>10s} {'MFU':>6s} "
          f"{'× plain':>8s}")  # fmt: skip
    rows = {name: summarize(res, peak) for name, res in results.items()}
    plain = results[f"plain loop, {BASELINE}"]["times"][WARMUP:]
    for name in [*MODELS, f"plain loop, {BASELINE}"]:
        r = rows[name]
        ratio = f"{'':8s}"
        if BASELINE in name:  # same batches at the same step: median of step-by-step ratios
            mine = results[name]["times"][WARMUP:]
            ratio = f"{statistics.median(a / b for a, b in zip(mine, plain, strict=True)):8.3f}"
        print(f"{name:34s} {r['ms']:8.1f} {r['tgt_per_s']:10,.0f} {r['all_per_s']:10,.0f} "
              f"{r['mfu']:6.1%} {ratio}")  # fmt: skip
    print("MFU: 6N + attention per token (Transformer); parameters only, 6N (GRU).")
    print("× plain: median over steps of the step-time ratio (both train on the same batches)")


if __name__ == "__main__":
    main()
