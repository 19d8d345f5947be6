#!/usr/bin/env bash
# GPU benchmark, for a machine with an NVIDIA GPU (bf16 needs Ampere or newer). Runs of the
# base-size GPT (size=base: 6 layers, 8 heads, width 256) on Tiny Shakespeare characters, context
# 256, batch 64 (nanoGPT's GPU Shakespeare shape):
#   plain  a hand-written PyTorch loop over the same network, data, optimizer and clipping in bf16
#          autocast (gpu_plain.py): the baseline;
#   gpu    seqlab-train on one GPU, bf16-mixed (trainer=gpu; remaining float32 matmuls on TF32);
#   ddp    the same as a 1-GPU DDP run (trainer=ddp trainer.devices=1): what the DDP wrapper costs.
# Then prints each run's tokens/s, its step time over the plain loop's, and MFU: model FLOPs per
# second (6N + attention per token) over the bf16 matmul peak that the Throughput callback
# measures once on this GPU (cached in the seqlab cache dir; plan.peak_flops=<FLOP/s> gives one).
#
#   experiments/benchmarks/gpu.sh                        # from the repository root or anywhere
#   experiments/benchmarks/gpu.sh model.compile=true     # extra overrides for every run
#   RUNS="plain gpu" STEPS=1000 BATCH=64 BLOCK=256 PY=python3 RUNS_DIR=/tmp/gpu \
#     SEQLAB_DATA_DIR=/data experiments/benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-500}
BATCH=${BATCH:-64}
BLOCK=${BLOCK:-256}
RUNS=${RUNS:-plain gpu ddp}
RUNS_DIR=${RUNS_DIR:-$(mktemp -d)}
export SEQLAB_DATA_DIR=${SEQLAB_DATA_DIR:-../shared/data}
trap 'echo "run folders kept in $RUNS_DIR"' EXIT

"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu.sh: no CUDA GPU visible to torch')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)"

shape=(size=base task.block_size="$BLOCK" loader.batch_size="$BATCH" "$@")
for run in $RUNS; do
  echo "== $run"
  mkdir -p "$RUNS_DIR/$run"
  case $run in
    plain)
      "$PY" experiments/benchmarks/gpu_plain.py --steps "$STEPS" "${shape[@]}" | tee "$RUNS_DIR/plain/plain.json";;
    gpu|ddp)
      extra=(trainer="$run")
      if [ "$run" = ddp ]; then extra+=(trainer.devices=1); fi
      SEQLAB_LOG_DIR="$RUNS_DIR/$run" "$PY" -m seqlab.train experiment=shakespeare_gpt "${shape[@]}" \
        trainer.max_steps="$STEPS" trainer.val_check_interval="$STEPS" trainer.limit_val_batches=20 \
        trainer.log_every_n_steps=50 test=false "${extra[@]}";;
    *) echo "gpu.sh: unknown run '$run' in RUNS (plain, gpu, ddp)" >&2; exit 2;;
  esac
done

"$PY" - "$RUNS_DIR" <<'PYEOF'
import json, pathlib, sys

root = pathlib.Path(sys.argv[1])
plain = json.loads(p.read_text().splitlines()[-1]) if (p := root / "plain" / "plain.json").is_file() else None
rows = []
if plain:
    rows.append(("plain", plain["tokens_per_s"], plain["flops_per_s"], None, None, None))
peak = None
for results in sorted(root.glob("*/runs/*/*/results.json")):
    res = json.loads(results.read_text())
    t = res["throughput"]
    peak = peak or t["peak_flops"]
    rows.append((results.relative_to(root).parts[0], t["tokens_per_s"], t["flops_per_s_per_device"],
                 t["peak_source"], t["flops_method"], res["metrics"].get("val/loss")))
print(f"\n{'run':8s} {'tokens/s':>12s} {'× plain':>8s} {'model TFLOP/s':>14s} {'MFU':>7s} {'val loss':>9s}")
for name, tps, fps, *_, loss in rows:
    ratio = f"{plain['tokens_per_s'] / tps:8.3f}" if plain else f"{'':8s}"
    mfu = f"{fps / peak:7.1%}" if peak else f"{'':7s}"
    loss = f"{loss:9.4f}" if loss is not None else f"{'':9s}"
    print(f"{name:8s} {tps:12,.0f} {ratio} {fps / 1e12:14.1f} {mfu} {loss}")
print("× plain: step time over the plain loop's (plain tokens/s over the run's)")
for name, _, _, source, method, _ in rows:
    if source:
        print(f"{name}: peak {peak / 1e12:.1f} TFLOP/s ({source}); FLOPs: {method}")
PYEOF
