"""`--help` of every command: names the command, shows usage, and starts in about a second.

Importing torch costs seconds and Lightning several more; help must load neither (each command
imports them inside its job function).
"""

import subprocess
import sys

import pytest

# Runs a command's entry point with --help in this process, then reports what it imported.
PROBE = """
import runpy, sys
sys.argv = [{app!r}, "--help"]
try:
    runpy.run_module({module!r}, run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
print("IMPORTED", " ".join(m for m in ("torch", "lightning") if m in sys.modules))
"""

COMMANDS = {  # module -> command name and a word of its usage line
    "seqlab.train": ("seqlab-train", "Usage: seqlab-train"),
    "seqlab.evaluate": ("seqlab-eval", "Usage: seqlab-eval ckpt_path="),
    "seqlab.generate": ("seqlab-generate", "Usage: seqlab-generate ckpt_path="),
    "seqlab.plan": ("seqlab-plan", "seqlab-plan [seqlab-train overrides"),
}


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_help_is_light_and_names_the_command(module, tmp_path):
    app, usage = COMMANDS[module]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(app=app, module=module)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.startswith(app), out[:300]  # not Hydra's "<module> is powered by Hydra."
    assert usage in out
    assert "== Configuration groups ==" in out  # Hydra's group listing follows the header
    assert out.rstrip().splitlines()[-1] == "IMPORTED", out[-300:]  # neither torch nor Lightning
