#!/usr/bin/env bash
# GPU benchmark, for a machine with an NVIDIA GPU (bf16 needs Ampere or newer). Two runs of the
# base-size GPT (size=base: 6 layers, 8 heads, width 256) on Tiny Shakespeare characters, context
# 256, batch 64 (nanoGPT's GPU Shakespeare shape):
#   1. one GPU, bf16-mixed (trainer=gpu; remaining float32 matmuls on TF32);
#   2. the same as a 1-GPU DDP run (trainer=ddp trainer.devices=1): what the DDP wrapper costs.
# Then prints each run's tokens/s and MFU from its results.json: model FLOPs per second (6N +
# attention per token) over the bf16 matmul peak that the Throughput callback measures once on this
# GPU (cached in the seqlab cache dir; plan.peak_flops=<FLOP/s> uses a given peak instead).
#
#   experiments/benchmarks/gpu.sh                        # from the repository root or anywhere
#   experiments/benchmarks/gpu.sh model.compile=true     # extra seqlab-train overrides for both runs
#   STEPS=1000 BATCH=64 BLOCK=256 PY=.venv/bin/python SEQLAB_DATA_DIR=/data experiments/benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-500}
BATCH=${BATCH:-64}
BLOCK=${BLOCK:-256}
export SEQLAB_DATA_DIR=${SEQLAB_DATA_DIR:-../shared/data}
OUT=$(mktemp -d)
trap 'echo "run folders kept in $OUT"' EXIT

"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu.sh: no CUDA GPU visible to torch')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

common=(experiment=shakespeare_gpt size=base task.block_size="$BLOCK" loader.batch_size="$BATCH"
        trainer.max_steps="$STEPS" trainer.val_check_interval="$STEPS" trainer.limit_val_batches=20
        trainer.log_every_n_steps=50 test=false "$@")
for run in gpu ddp; do
  extra=()
  if [ "$run" = ddp ]; then extra=(trainer.devices=1); fi
  echo "== trainer=$run ${extra[*]:-}"
  SEQLAB_LOG_DIR="$OUT/$run" "$PY" -m seqlab.train "${common[@]}" trainer="$run" ${extra[@]+"${extra[@]}"}
done

"$PY" - "$OUT" <<'EOF'
import json, pathlib, sys

print(f"\n{'run':10s} {'tokens/s':>12s} {'model TFLOP/s':>14s} {'peak TFLOP/s':>13s} {'MFU':>7s} {'val loss':>9s}")
for results in sorted(pathlib.Path(sys.argv[1]).glob("*/runs/*/*/results.json")):
    res = json.loads(results.read_text())
    t = res["throughput"]
    run = results.relative_to(sys.argv[1]).parts[0]
    peak, mfu = (t["peak_flops"] or 0) / 1e12, t["mfu"] or 0.0
    print(f"{run:10s} {t['tokens_per_s']:12,.0f} {t['flops_per_s_per_device'] / 1e12:14.1f} "
          f"{peak:13.1f} {mfu:7.1%} {res['metrics'].get('val/loss', float('nan')):9.4f}")
    print(f"{'':10s} peak: {t['peak_source']}; {t['flops_method']}")
EOF
