"""LM training benchmark: seqlab's `shakespeare_gpt` step vs a plain PyTorch loop and nanoGPT.

The model is nanoGPT's CPU "baby GPT" (4 layers, 4 heads, width 128, context 64, batch 12,
no dropout, AdamW, cosine schedule, gradient clipping at 1.0). Loops compared:

- seqlab: the real LightningModule, DataModule, optimizer, schedule, loggers and step callbacks
  of `experiment=shakespeare_gpt` (every configured callback but checkpointing; no validation).
- plain: a hand-written loop over the same network, batches, optimizer, schedule and clipping;
  run twice ("plain, again"): the two copies' ratio is the run's noise floor.
- Lightning, bare: the plain loop's step as a LightningModule under a Trainer with no callbacks,
  loggers or progress bar: what Lightning's loop costs, apart from what seqlab adds to it.
- nanoGPT (`--nanogpt DIR`, a checkout of github.com/karpathy/nanoGPT, copied to a scratch
  folder and never modified): its own `train.py` with the CPU command of its README.
- seqlab compiled (`--compile [VALUE]`): seqlab with `model.compile=VALUE` (default: torch.compile
  with inductor's C++ wrapper); its first step (compilation) is reported separately.
- seqlab with bfloat16 (`--bf16`): float32 matmuls from bfloat16 inputs
  (`callbacks.matmul_precision.cpu_float32=medium`), and `trainer.precision=bf16-mixed`. Neither
  is float32 training: their rows show what a CPU with AMX or AVX512-BF16 gains, not the targets.
  The matmul precision is process-wide: each loop sets its own whenever it takes its turn.

seqlab's `host_memory` callback keeps freed memory in the process (glibc's malloc settings are
process-wide), so in the interleaved rounds every loop runs with it once seqlab has set up.
`--full` runs each program as a process of its own, as users run them; there seqlab also runs
without the callback (`~callbacks.host_memory`, "memory returned") to show what it is worth.

The loops run in one process, interleaved step by step: each runs in its own thread and they
hand a baton round, so exactly one computes at a time and all see the same machine load; their
ratios hold on a busy machine. (nanoGPT's train.py is executed in its thread with its own
command line; an iteration ends where it zeroes its gradients. Running it as a separate process
instead is not comparable on a loaded machine: there a 2-thread step in a process's main thread
took 2-4x longer than the same step in another thread.) `--full` also trains seqlab
(`seqlab-train`) and nanoGPT (`train.py` in a subprocess, its printed per-iteration times
parsed) to 2000 iterations, validation included, one after the other, and reports the
validation loss at iteration 2000 (nanoGPT estimates it from 20 random batches, seqlab over the
whole split). Where seqlab's peak learning rate differs from nanoGPT's 1e-3, nanoGPT also trains
at seqlab's, so a loss difference shows as the recipe's or the framework's.

GFLOP/s use the PaLM estimate of the Throughput callback (6N + attention, per token); the peak
is an fp32 (n×n)@(n×n) matmul measured here with the same threads.

    python experiments/benchmarks/lm_training.py [--steps 200] [--rounds 3] [--nanogpt DIR]
        [--full] [--compile] [--bf16] [--threads N] [--quick] [seqlab-train overrides ...]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from common import benchmark_parser
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from seqlab.callbacks.precision import cpu_flash_attention_pays
from seqlab.callbacks.throughput import ModelFlops
from seqlab.lit.build import build_datamodule, build_module, build_net, build_trainer
from seqlab.lit.optim import build_optimizer
from seqlab.planning.hardware import measure_peak_flops

HERE = Path(__file__).resolve().parent
WARMUP = 5  # steps dropped at the start of every round
# nanoGPT README's CPU run ("I only have a macbook"), minus the iteration count.
NANOGPT_ARGS = [
    "config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
    "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
    "--n_embd=128", "--dropout=0.0",
]  # fmt: skip
# "plain, again" is a second copy of the plain loop: its ratio to "plain" is the run's noise floor.
# "Lightning, bare" splits seqlab's overhead into Lightning's loop and what seqlab adds to it.
STEP_LOOPS = ("seqlab", "plain", "plain, again", "Lightning, bare", "seqlab compiled")
BF16_LOOPS = {  # --bf16: loop name -> its seqlab-train overrides
    "seqlab, bf16 matmuls": ["callbacks.matmul_precision.cpu_float32=medium"],
    "seqlab, bf16-mixed": ["trainer.precision=bf16-mixed"],
}
NANOGPT_LR = 1e-3  # its config's peak learning rate (min_lr a tenth of it)
# torch.compile with inductor's C++ wrapper: about 2 % faster steps than the Python wrapper here.
COMPILE = "{options: {cpp_wrapper: true}}"


class Baton:
    """Round-robin turns between threads: one computes while the others wait (no spinning)."""

    def __init__(self, n: int):
        self.cond, self.turn, self.n, self.done = threading.Condition(), 0, n, set()

    def wait(self, i: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == i or self.turn < 0)

    def give(self, i: int, finished: bool = False) -> None:
        with self.cond:
            if finished:
                self.done.add(i)
            free = [j for j in range(i + 1, i + 1 + self.n) if j % self.n not in self.done]
            self.turn = free[0] % self.n if free else -1
            self.cond.notify_all()


class Turns:
    """One loop's view of the baton: times each step from getting the baton to handing it on.

    The process-wide float32 matmul precision and flash-attention switch are set to the loop's own
    at every turn (`matmul`, and the switch seqlab's MatmulPrecision callback sets for it).
    """

    def __init__(self, baton: Baton, i: int, matmul: str = "highest"):
        self.baton, self.i, self.matmul, self.times, self._start = baton, i, matmul, [], 0.0

    def begin(self) -> None:
        self.baton.wait(self.i)
        torch.set_float32_matmul_precision(self.matmul)
        torch.backends.cuda.enable_flash_sdp(cpu_flash_attention_pays(self.matmul))
        self._start = time.perf_counter()

    def step_done(self) -> None:
        self.times.append(time.perf_counter() - self._start)
        self.baton.give(self.i)
        self.begin()


class StepHook(L.Callback):
    """Ends a seqlab step in the interleaved rounds."""

    def __init__(self, turns: Turns):
        self.turns = turns

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.turns.step_done()


class StepTimes(L.Callback):
    """For `--full` runs of seqlab-train: wall time of every training step (validation excluded),
    written as JSON to `path` when training ends."""

    def __init__(self, path: str):
        self.path, self.times, self._last = path, [], None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now

    def on_validation_end(self, trainer, pl_module) -> None:
        self._last = None

    def on_train_end(self, trainer, pl_module) -> None:
        Path(self.path).write_text(json.dumps(self.times))


def seqlab_loop(cfg, steps: int, turns: Turns) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    net = build_net(cfg.model, datamodule.tokenizers)
    module = build_module(cfg, datamodule.tokenizer_states(), net)
    # Every configured callback but checkpointing (no checkpoints are written in timed steps).
    trainer = build_trainer(
        cfg, extra_callbacks=(StepHook(turns),), without=("model_checkpoint",), max_steps=steps,
        enable_checkpointing=False, limit_val_batches=0,
    )  # fmt: skip
    turns.begin()
    trainer.fit(module, datamodule=datamodule)


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The hand-written loops' loss (in float32, also when the logits come out of autocast)."""
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))


def optimizer_and_schedule(cfg, net: torch.nn.Module, steps: int) -> tuple:
    """seqlab's optimizer (fused where PyTorch has it) and schedule, built by hand."""
    optimizer = build_optimizer(instantiate(cfg.optimizer), net)
    return optimizer, instantiate(cfg.scheduler)(optimizer, total_steps=steps)


def plain_loop(cfg, steps: int, turns: Turns) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    net = build_net(cfg.model, datamodule.tokenizers)
    optimizer, scheduler = optimizer_and_schedule(cfg, net, steps)
    batches = iter(datamodule.train_dataloader())
    turns.begin()
    for _ in range(steps):
        x, y = next(batches)
        loss = next_token_loss(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
        scheduler.step()
        turns.step_done()


class BareModule(L.LightningModule):
    """The plain loop's step as a LightningModule: no logging, no seqlab module code."""

    def __init__(self, net: torch.nn.Module, cfg, steps: int):
        super().__init__()
        self.net, self.cfg, self.steps = net, cfg, steps

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return next_token_loss(self.net(x), y)

    def configure_optimizers(self):
        optimizer, scheduler = optimizer_and_schedule(self.cfg, self.net, self.steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def bare_lightning_loop(cfg, steps: int, turns: Turns) -> None:
    """Lightning's Trainer over the plain loop's step: no callbacks, loggers or progress bar."""
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    net = build_net(cfg.model, datamodule.tokenizers)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=steps, logger=False, callbacks=[StepHook(turns)],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, num_sanity_val_steps=0,
        gradient_clip_val=cfg.trainer.gradient_clip_val,
    )  # fmt: skip
    turns.begin()
    trainer.fit(BareModule(net, cfg, steps), train_dataloaders=datamodule.train_dataloader())


def nanogpt_loop(work: Path, steps: int, turns: Turns) -> None:
    """nanoGPT's own train.py, executed in this thread (its working directory and command line
    are set by `interleaved_round`); an iteration ends where it zeroes the gradients."""
    if str(work) not in sys.path:
        sys.path.insert(0, str(work))
    import model as nanogpt  # nanoGPT's model.py, which its train.py imports

    configure = nanogpt.GPT.__dict__.get("_original_configure", nanogpt.GPT.configure_optimizers)
    nanogpt.GPT._original_configure = configure

    def configure_optimizers(self, *args, **kwargs):
        optimizer = configure(self, *args, **kwargs)
        zero_grad = optimizer.zero_grad

        def zero_grad_then_pass(*a, **k):
            zero_grad(*a, **k)
            turns.step_done()

        optimizer.zero_grad = zero_grad_then_pass
        return optimizer

    nanogpt.GPT.configure_optimizers = configure_optimizers
    code = compile((work / "train.py").read_text(), str(work / "train.py"), "exec")
    turns.begin()
    exec(code, {"__name__": "__main__"})


def interleaved_round(cfgs: dict, steps: int, nanogpt: Path | None) -> dict[str, list[float]]:
    """Every loop in `cfgs` (and nanoGPT's train.py in `nanogpt`) for `steps` steps, one step
    each in turn, each in its own thread; returns each one's step times."""
    names = [*cfgs, "nanoGPT"] if nanogpt else list(cfgs)
    baton = Baton(len(names))
    levels = {name: OmegaConf.select(cfg, "callbacks.matmul_precision.cpu_float32") or "highest"
              for name, cfg in cfgs.items()}  # fmt: skip
    turns = {name: Turns(baton, i, levels.get(name, "highest")) for i, name in enumerate(names)}
    errors = []

    def run(name: str) -> None:
        try:
            if name == "nanoGPT":
                nanogpt_loop(nanogpt, steps, turns[name])
            else:
                loops = {"plain": plain_loop, "Lightning": bare_lightning_loop}
                loops.get(name.split(",")[0], seqlab_loop)(cfgs[name], steps, turns[name])
        except BaseException as e:  # report after the other loops finish
            errors.append(e)
        finally:
            baton.give(turns[name].i, finished=True)

    argv, cwd = sys.argv, os.getcwd()
    nano_args = [f"--max_iters={steps - 1}", "--lr_decay_iters=2000", f"--eval_interval={10**9}"]
    sys.argv = ["train.py", *NANOGPT_ARGS, *nano_args]  # what nanoGPT's configurator reads
    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    try:
        if nanogpt:
            os.chdir(
                nanogpt
            )  # its train.py opens files relative to its folder (seqlab's are absolute)
        # nanoGPT prints every iteration and the progress bar writes to stdout: keep the table clean.
        with contextlib.redirect_stdout(io.StringIO()):
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.argv = argv
        os.chdir(cwd)
    if errors:
        raise errors[0]
    return {name: t.times for name, t in turns.items()}


def nanogpt_workdir(checkout: Path, data_dir: Path, into: Path) -> Path:
    """A scratch copy of the checkout with Tiny Shakespeare prepared (never downloads)."""
    if not (checkout / "train.py").is_file():
        sys.exit(f"--nanogpt {checkout}: no train.py there (expected a nanoGPT checkout)")
    work = into / "nanoGPT"
    shutil.copytree(checkout, work, ignore=shutil.ignore_patterns(".git", "out*", "*.bin"))
    data = work / "data" / "shakespeare_char"
    shutil.copy(data_dir / "tinyshakespeare" / "input.txt", data / "input.txt")
    subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True, capture_output=True)
    return work


def nanogpt_lr_args(lr: float) -> tuple[str, str]:
    """nanoGPT's command-line settings for peak lr `lr`, decaying to a tenth of it as seqlab's
    `scheduler.min_lr_ratio: 0.1` does (its config: 1e-3 and 1e-4)."""
    return f"--learning_rate={lr:g}", f"--min_lr={lr / 10:g}"


def run_nanogpt(work: Path, iters: int, env: dict, eval_interval: int, extra: tuple = ()) -> dict:
    """nanoGPT's train.py for `iters` iterations (`extra`: more of its command-line settings);
    its per-iteration times and training losses, and its validation losses by iteration."""
    args = [f"--max_iters={iters}", "--lr_decay_iters=2000", f"--eval_interval={eval_interval}",
            *extra]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "train.py", *NANOGPT_ARGS, *args],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode:
        sys.exit(f"nanoGPT's train.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = proc.stdout
    logged = re.findall(r"^iter (\d+): loss ([\d.]+), time ([\d.]+)ms", out, re.M)
    times = [float(ms) / 1e3 for _, _, ms in logged]
    train = {int(step): float(loss) for step, loss, _ in logged}
    val = {int(s): float(v) for s, v in re.findall(r"^step (\d+): train loss [\d.]+, val loss ([\d.]+)", out, re.M)}  # fmt: skip
    return {"times": times, "val": val, "train": train}


def run_seqlab_full(overrides: list[str], env: dict, tmp: Path) -> dict:
    """seqlab-train itself (validation, checkpoints, logging); per-step times and val/loss."""
    tmp.mkdir(parents=True)
    times_file = tmp / "seqlab_steps.json"
    cmd = [sys.executable, "-m", "seqlab.train", "experiment=shakespeare_gpt", "test=false",
           f"paths.log_dir={tmp / 'outputs'}", "+callbacks.step_times._target_=lm_training.StepTimes",
           f"+callbacks.step_times.path={times_file}", *overrides]  # fmt: skip
    start = time.perf_counter()
    path = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        cmd, env={**env, "PYTHONPATH": path}, cwd=tmp, capture_output=True, text=True
    )
    if proc.returncode:
        sys.exit(f"seqlab-train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - start
    results = json.loads(next((tmp / "outputs").rglob("results.json")).read_text())
    return {"times": json.loads(times_file.read_text()), "val_loss": results["metrics"]["val/loss"],
            "steps": results["steps"], "wall": wall}  # fmt: skip


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median of a[i] / b[i]: steps i of two interleaved loops ran back to back (same load), and
    seqlab and the plain loop train on the same batches at the same step."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def row(name: str, seconds: float, tokens: int, flops: float, peak: float, ratios: list) -> str:
    cells = " ".join(f"{r:9.3f}" if r else f"{'':9s}" for r in ratios)
    return (f"{name:24s} {seconds * 1e3:8.2f} {tokens / seconds:9,.0f} {flops / seconds / 1e9:8.1f} "
            f"{flops / seconds / peak:8.1%} {cells}")  # fmt: skip


def main() -> None:
    parser = benchmark_parser(__doc__, "a few short steps")
    parser.add_argument("--steps", type=int, default=200, help="steps per round and loop")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (nanoGPT alternates)")
    parser.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout to compare against")
    parser.add_argument("--full", action="store_true", help="also 2000 iterations with val loss")
    parser.add_argument("--compile", nargs="?", const=COMPILE, metavar="VALUE",
                        help=f"also seqlab with model.compile=VALUE (default {COMPILE})")  # fmt: skip
    parser.add_argument("--bf16", action="store_true", help="also seqlab with bfloat16 matmuls")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("overrides", nargs="*", help="seqlab-train overrides for every seqlab run")
    args = parser.parse_args()
    args.data_dir = args.data_dir.resolve()  # the nanoGPT thread changes the working directory
    args.nanogpt = args.nanogpt.resolve() if args.nanogpt else None
    if args.quick:
        args.steps, args.rounds = 20, 1
    full_iters = 40 if args.quick else 2000
    torch.set_num_threads(args.threads)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "SEQLAB_DATA_DIR": str(args.data_dir),
    }
    os.environ["SEQLAB_DATA_DIR"] = str(args.data_dir)

    with (
        tempfile.TemporaryDirectory() as tmp_name,
        initialize_config_module("seqlab.conf", version_base="1.3"),
    ):
        tmp = Path(tmp_name)
        extra = {name: [] for name in STEP_LOOPS[:4]}
        if args.compile:
            extra["seqlab compiled"] = [f"model.compile={args.compile}"]
        if args.bf16:
            extra.update(BF16_LOOPS)
        cfgs = {name: compose("train", ["experiment=shakespeare_gpt", f"paths.output_dir={tmp}/{i}",
                                        *more, *args.overrides])
                for i, (name, more) in enumerate(extra.items())}  # fmt: skip
        datamodule = build_datamodule(cfgs["seqlab"])
        datamodule.prepare_data()  # builds the cache once, before any loop is timed
        work = nanogpt_workdir(args.nanogpt, args.data_dir, tmp) if args.nanogpt else None
        times: dict[str, list[float]] = {}
        first_steps: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, values in interleaved_round(cfgs, args.steps, work).items():
                times.setdefault(name, []).extend(values[WARMUP:])
                first_steps.setdefault(name, []).append(values[0])
        full = {}
        if args.full:
            quick = ["trainer.max_steps=40", "trainer.val_check_interval=20",
                     "trainer.limit_val_batches=2"] if args.quick else []  # fmt: skip
            variants = {"seqlab": [], "seqlab, memory returned": ["~callbacks.host_memory"]}
            if args.compile:
                variants["seqlab compiled"] = [f"model.compile={args.compile}"]
            if args.bf16:
                variants.update(BF16_LOOPS)
            for name, extra in variants.items():
                folder = tmp / re.sub(r"\W+", "_", name)  # Hydra overrides take no commas
                full[name] = run_seqlab_full([*quick, *extra, *args.overrides], env, folder)
            if work:
                lr, every = cfgs["seqlab"].optimizer.lr, 20 if args.quick else 250
                runs = {"nanoGPT": ()}
                # The same recipe change in nanoGPT: is a loss gain the recipe's or seqlab's?
                if lr != NANOGPT_LR:
                    runs[f"nanoGPT, lr {lr:g}"] = nanogpt_lr_args(lr)
                for name, extra in runs.items():
                    nano = run_nanogpt(work, full_iters, env, every, extra)
                    full[name] = {"times": nano["times"], "val_loss": nano["val"].get(full_iters)}

    cfg = cfgs["seqlab"]
    with torch.device("meta"):
        net = build_net(cfg.model, datamodule.tokenizers)
    tokens = cfg.loader.batch_size * cfg.task.block_size
    flops = ModelFlops.of(net).step(0, tokens, 0, cfg.task.block_size)
    peak = measure_peak_flops("cpu", torch.float32, seconds=2.0)
    print(f"torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.1f}; fp32 matmul peak {peak / 1e9:.0f} GFLOP/s; "
          f"{flops / 1e9:.2f} GFLOP per step (6N + attention)")  # fmt: skip
    medians = {name: statistics.median(v) for name, v in times.items() if v}
    refs = [r for r in ("plain", "nanoGPT") if r in medians]
    print(f"\nstep time, median of {args.rounds} × {args.steps - WARMUP} steps, the loops "
          "interleaved step by step")  # fmt: skip
    print(f"{'loop':24s} {'ms/iter':>8s} {'tokens/s':>9s} {'GFLOP/s':>8s} {'of peak':>8s} "
          + " ".join(f"{'× ' + r:>9s}" for r in refs))  # fmt: skip
    for name, ms in medians.items():
        print(
            row(name, ms, tokens, flops, peak, [paired_ratio(times[name], times[r]) for r in refs])
        )
    print("× : median over steps of the step-time ratio to the same step of the other loop; "
          "'plain, again' × plain is the noise floor of this run")  # fmt: skip
    if "seqlab compiled" in medians:
        # Later rounds reuse the process's compiled code: the first round's step is the cost.
        compile_s = first_steps["seqlab compiled"][0]
        print(f"torch.compile: first step of the first round {compile_s:.1f} s (compilation; "
              f"inductor's on-disk cache shortens it on later runs) vs "
              f"{first_steps['seqlab'][0]:.2f} s uncompiled")  # fmt: skip
    if full:
        print(f"\n{full_iters} iterations through the entry points (run one after the other)")
        print(f"{'loop':24s} {'ms/iter':>8s} {'tokens/s':>9s} {'GFLOP/s':>8s} {'of peak':>8s} "
              f"{'val loss':>9s}")  # fmt: skip
        for name, res in full.items():
            ms = statistics.median(res["times"][WARMUP:])
            print(
                row(name, ms, tokens, flops, peak, []) + f"{res['val_loss'] or float('nan'):9.4f}"
            )
        if "nanoGPT" in full:
            nano_ms = statistics.median(full["nanoGPT"]["times"][WARMUP:])
            for name, res in full.items():
                if not name.startswith("nanoGPT"):
                    ratio = statistics.median(res["times"][WARMUP:]) / nano_ms
                    print(f"{name} / nanoGPT ms/iter: {ratio:.3f}")


if __name__ == "__main__":
    main()
