"""seqlab-plan: what a seqlab-train command would cost, without training anything.

Takes exactly seqlab-train's overrides (same config, same composition, ``-m`` sweeps included)
and prints parameters, FLOPs, memory per device, data size, steps and time. Hydra's run folder
goes to a temporary directory that is removed afterwards: a plan leaves nothing behind but the
cached peak FLOP/s measurement (and the data cache with ``plan.prepare_data=true``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from seqlab.cli import end_startup, entry_point, quiet, user_errors
from seqlab.planning.format import format_text

# Where the @hydra.main below finds `conf`; seqlab.config (CONF_DIR) would import torch for --help.
CONF_DIR = Path(__file__).resolve().parent / "conf"
HELP_HEADER = (
    "seqlab-plan [seqlab-train overrides, -m sweeps included]: what that run would cost "
    "(parameters, FLOPs, memory per device, data, steps, time), training nothing."
    "\n"  # Hydra's template puts the groups right after the header
)


def check(cfg: DictConfig) -> None:
    """seqlab-train's validation (the plan section included: callbacks read plan.peak_flops)."""
    from seqlab.config import validate

    validate(cfg)


def plan(cfg: DictConfig) -> dict:
    """Compose-validate-estimate-print; returns the plan (a plain dict)."""
    # Imported here so that `seqlab-plan --help` never loads torch (seconds); a plan never
    # imports Lightning at all.
    from seqlab.planning.plan import make_plan
    from seqlab.runs.checkpoints import load_checkpoint
    from seqlab.runs.hf import apply_hf_pretrained

    check(cfg)  # imports Lightning: it checks trainer and callback keys against their classes
    end_startup()
    quiet(cfg.extras.ignore_warnings)
    apply_hf_pretrained(cfg)  # model=hf_*: the architecture from its config.json
    fixed = load_checkpoint(cfg.ckpt_path)["seqlab"]["tokenizers"] if cfg.ckpt_path else None
    result = make_plan(cfg, fixed)
    print(format_text(result, cfg.name), flush=True)
    return result


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@user_errors
def _hydra_main(cfg: DictConfig) -> None:
    plan(cfg)


def main() -> None:
    scratch = tempfile.mkdtemp(prefix="seqlab-plan-")
    sys.argv += [
        f"hydra.run.dir={scratch}",
        f"hydra.sweep.dir={scratch}",
        "hydra.output_subdir=null",
        "hydra/job_logging=disabled",
        "hydra.help.app_name=seqlab-plan",
        f"hydra.help.header='{HELP_HEADER}'",
        "hydra.help.footer='Hydra flags: --hydra-help.'",
    ]
    # A sweep of plans has no run folders for the sweep callbacks (summary, report) to read.
    callbacks = OmegaConf.load(CONF_DIR / "hydra" / "default.yaml").get("callbacks") or {}
    sys.argv += [f"~hydra.callbacks.{name}" for name in callbacks]
    try:
        entry_point(_hydra_main)()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
