"""seqlab-generate run as a user runs it, on checkpoints made by tiny seqlab-train runs."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import cli_env, run_folders, run_in_process


def _run(cwd: Path, env: dict, module: str, *args: str, expect: int = 0, stdin: str | None = None):
    return run_in_process(module, *args, cwd=cwd, env=env, expect=expect, stdin=stdin)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_root, cache_dir):
    tmp = tmp_path_factory.mktemp("generate")
    env = {**cli_env(data_root, cache_dir, tmp / "outputs"), "OMP_NUM_THREADS": "1"}
    return tmp, env


def _train(workdir, name: str, *overrides: str) -> str:
    tmp, env = workdir
    _run(tmp, dict(env, SEQLAB_LOG_DIR=str(tmp / name)), "train", *overrides)
    [run] = run_folders(tmp / name)
    return str(run / "checkpoints" / "last.ckpt")


@pytest.fixture(scope="module")
def scan_ckpt(workdir) -> str:
    return _train(workdir, "scan", "size=tiny", "trainer.max_epochs=1",
                  "trainer.limit_train_batches=4", "trainer.limit_val_batches=1",
                  "trainer.limit_test_batches=1", "loader.batch_size=16")  # fmt: skip


@pytest.fixture(scope="module")
def lm_ckpt(workdir) -> str:
    return _train(workdir, "lm", "experiment=shakespeare_gpt", "trainer.max_steps=2",
                  "trainer.val_check_interval=2", "trainer.limit_val_batches=1",
                  "trainer.limit_test_batches=1", "test=false")  # fmt: skip


@pytest.fixture
def generate(workdir):
    tmp, env = workdir

    def run(*args: str, expect: int = 0, stdin: str | None = None):
        return _run(tmp, env, "generate", *args, expect=expect, stdin=stdin)

    return run


def scored(lines: list[str]) -> list[tuple[float, str]]:
    out = []
    for line in lines:
        score, text = line.split("\t", 1)
        out.append((float(score), text))
    return out


def test_prompt_and_beam_n_best_with_scores(generate, scan_ckpt) -> None:
    plain = generate(f"ckpt_path={scan_ckpt}", "prompt=jump twice", "decoding.max_len_a=4")
    assert len(plain.stdout.splitlines()) == 1 and plain.stdout.strip()
    beam = generate(f"ckpt_path={scan_ckpt}", "prompt=jump twice", "decoding=beam",
                    "decoding.n_best=3", "decoding.max_len_a=4")  # fmt: skip
    hyps = scored(beam.stdout.splitlines())
    assert len(hyps) == 3 and [s for s, _ in hyps] == sorted((s for s, _ in hyps), reverse=True)


def test_input_file_to_output_file_in_batches(generate, scan_ckpt, workdir) -> None:
    tmp, _ = workdir
    lines = ["walk left", "jump around right twice", "look", "run and walk opposite left"]
    (tmp / "in.txt").write_text("\n".join(lines) + "\n")
    out = tmp / "out" / "hyps.txt"
    args = (f"ckpt_path={scan_ckpt}", "decoding.max_len_a=3", "decoding.max_len_b=0.5")
    proc = generate(*args, "input_file=in.txt", f"output_file={out}", "batch_size=3")
    assert "4 inputs" in proc.stderr
    hyps = out.read_text().splitlines()
    assert len(hyps) == 4
    # Batching (and padding) does not change a decode: same as the prompt alone.
    alone = generate(*args, f"prompt={lines[1]}")
    assert alone.stdout.splitlines() == [hyps[1]]
    # n-best: n lines per input, best first, with scores.
    generate(*args, "input_file=in.txt", f"output_file={out}", "decoding=beam", "decoding.n_best=2",
             "decoding.beam_size=2")  # fmt: skip
    assert len(scored(out.read_text().splitlines())) == 8
    piped = generate(*args, stdin="\n".join(lines) + "\n")
    assert piped.stdout.splitlines() == hyps


def test_lm_sampling_is_seeded_and_overlong_prompts_follow_the_policy(generate, lm_ckpt) -> None:
    args = (f"ckpt_path={lm_ckpt}", "decoding=sample", "decoding.max_new_tokens=40",
            "decoding.top_k=20", "prompt=ROMEO:")  # fmt: skip
    first, again = generate(*args), generate(*args, "scores=true")
    assert first.stdout.strip()
    score, text = again.stdout.split("\t", 1)
    assert text == first.stdout and float(score) < 0
    long_prompt = "prompt=" + "To be or not to be " * 5  # 95 characters > block_size 64
    ok = generate(f"ckpt_path={lm_ckpt}", long_prompt, "decoding.max_new_tokens=5")
    assert "more than the model's context (block_size=64); kept its last 64 tokens" in ok.stderr
    bad = generate(f"ckpt_path={lm_ckpt}", long_prompt, "prompt_overflow=error", expect=2)
    [line] = bad.stderr.strip().splitlines()
    assert line.startswith("seqlab: error: input 1 has") and "prompt_overflow=truncate" in line


def test_user_errors_are_one_line(generate, scan_ckpt, tmp_path) -> None:
    for args, message in [
        ((f"ckpt_path={tmp_path / 'nope.ckpt'}", "prompt=x"), "checkpoint not found"),
        ((f"ckpt_path={scan_ckpt}", "prompt=x", "+decoding.top_k=5"), "decoding.top_k"),
        ((f"ckpt_path={scan_ckpt}", "prompt=x", "decoding=nucleus"), "valid: beam, greedy, sample"),
        ((f"ckpt_path={scan_ckpt}", "input_file=missing.txt"), "input_file not found"),
    ]:
        proc = generate(*args, expect=2)
        [line] = proc.stderr.strip().splitlines()
        assert line.startswith("seqlab: error:") and message in line, line


def test_interactive_prompt_when_stdin_is_a_terminal(workdir, scan_ckpt) -> None:
    tmp, env = workdir
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqlab.generate", f"ckpt_path={scan_ckpt}", "decoding.max_len_a=3"],
        cwd=tmp, env=env, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(slave)
    os.write(master, b"jump twice\n\n\x04")  # an input, an empty line (skipped), Ctrl-D
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert "type an input" in err
    answers = [line for line in out.split("> ") if line.strip()]
    assert len(answers) == 1 and answers[0].endswith("\n")


def test_unknown_words_are_named_once_per_input(generate, scan_ckpt, workdir) -> None:
    tmp, _ = workdir
    args = (f"ckpt_path={scan_ckpt}", "decoding.max_len_a=3")
    proc = generate(*args, "prompt=jump twice quickly quickly")
    [line] = proc.stderr.strip().splitlines()
    assert (
        line == "seqlab: warning: input 1: 'quickly' not in the model's vocabulary; read as <unk>"
    )
    (tmp / "unknown.txt").write_text("walk left\nrun very fast\nlook\n")
    proc = generate(*args, "input_file=unknown.txt", f"output_file={tmp / 'unknown.out'}")
    warnings = [w for w in proc.stderr.splitlines() if "warning" in w]
    assert warnings == [
        "seqlab: warning: input 2: 'very', 'fast' not in the model's vocabulary; read as <unk>"
    ]


def _read_until(fd: int, needle: bytes, timeout: float = 300.0) -> bytes:
    import select
    import time

    seen, end = b"", time.monotonic() + timeout
    while needle not in seen and time.monotonic() < end:
        if select.select([fd], [], [], 1.0)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the program closed the terminal
                break
    return seen


def test_interactive_prompt_edits_lines_and_keeps_history(generate, workdir, scan_ckpt) -> None:
    """On a real terminal: Ctrl-A moves to the start of the line, the up arrow recalls the last
    input, and the inputs outlive the session in history_file."""
    tmp, env = workdir
    expected = generate(f"ckpt_path={scan_ckpt}", "decoding.max_len_a=3", "prompt=jump twice")
    answer = expected.stdout.strip().encode()
    history = tmp / "history"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqlab.generate", f"ckpt_path={scan_ckpt}", "decoding.max_len_a=3",
         f"history_file={history}"],
        cwd=tmp, env=env, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    try:
        _read_until(master, b"> ")
        os.write(master, b"ump twice\x01j\r")  # typed without its first letter, then fixed
        first = _read_until(master, b"> ")
        os.write(master, b"\x1b[A\r")  # up arrow: the same input again
        second = _read_until(master, b"> ")
        os.write(master, b"\x04")
        proc.wait(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert answer in first and answer in second
    assert history.read_text().splitlines()[-1] == "jump twice"
