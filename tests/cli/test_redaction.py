"""Secrets never reach run folders, logged configs or reports."""

from __future__ import annotations

from secrets import token_hex

from helpers.cli import cli_env, run_folders, run_in_process
from seqlab.runs.redaction import REDACTED, is_secret_env, is_secret_key, redact, redact_text


def test_which_names_are_secret():
    assert all(map(is_secret_env, ["WANDB_API_KEY", "HF_TOKEN", "DB_PASSWORD", "AWS_SECRET_X"]))
    assert not any(map(is_secret_env, ["HOME", "PATH", "SEQLAB_DATA_DIR"]))
    assert all(map(is_secret_key, ["token", "data.hf.token", "api_key", "apiKey", "password"]))
    assert all(map(is_secret_key, ["api-key", "x.auth", "Authorization", "bearer", "ACCESS-KEY"]))
    assert not any(
        map(is_secret_key, ["max_tokens", "tokenizer", "key", "decoding.max_new_tokens", "author"])
    )
    assert not any(
        map(is_secret_key, ["model.config.bos_token_id", "eos_token_id", "suppress_token_ids"])
    )


def test_a_secret_found_once_is_redacted_everywhere():
    """Hydra's override_dirname joins every override into one string; a credential under any
    key at any depth, or in an auth header, is found and replaced in every other place too."""
    hydra = {
        "job": {"override_dirname": "+data.hf.token=typed-secret,seed=1"},
        "overrides": {"task": ["seed=1", "+data.hf.token=typed-secret"]},
        "api": {"headers": {"Authorization": "Bearer abc.def-123456"}, "auth": "user:pw-98765"},
        "notes": ["user:pw-98765 was used", "curl -H 'Authorization: Bearer zz-999999'"],
    }
    clean = redact(hydra)
    text = repr(clean)
    assert not any(s in text for s in ("typed-secret", "abc.def-123456", "pw-98765", "zz-999999"))
    assert clean["job"]["override_dirname"] == f"+data.hf.token={REDACTED},seed=1"
    assert clean["notes"][1] == f"curl -H 'Authorization: Bearer {REDACTED}'"


def test_redact_replaces_secret_values_keys_and_overrides(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-123456")
    config = {
        "data": {"hf": {"name": "x", "token": "literal-secret"}, "path": "/a/tok-123456/b"},
        "decoding": {"max_new_tokens": 50},
        "command": ["train.py", "+data.hf.token=typed-secret", "seed=1"],
    }
    assert redact(config) == {
        "data": {"hf": {"name": "x", "token": REDACTED}, "path": f"/a/{REDACTED}/b"},
        "decoding": {"max_new_tokens": 50},
        "command": ["train.py", f"+data.hf.token={REDACTED}", "seed=1"],
    }
    assert redact_text("Traceback ... tok-123456 ...") == f"Traceback ... {REDACTED} ..."


def test_no_secret_is_written_anywhere_in_a_run_folder(data_root, cache_dir, tmp_path):
    # Made up here: a literal in this file would also be in git.diff while the file is uncommitted.
    secrets = {"WANDB_API_KEY": token_hex(12), "MY_API_TOKEN": f"hf_{token_hex(8)}"}
    typed = f"pw-{token_hex(6)}"  # given on the command line, not in the environment
    env = {**cli_env(data_root, cache_dir, tmp_path / "outputs"), **secrets}
    run_in_process("train", "size=tiny", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
              "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "loader.batch_size=16",
              "logger=many", "+data.hf.token=${oc.env:MY_API_TOKEN}", f"+data.hf.password={typed}",
              cwd=tmp_path, env=env)  # fmt: skip
    [run] = run_folders(tmp_path / "outputs")
    run_in_process("report", str(run), cwd=tmp_path, env=env)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ckpt" for p in files) and any("wandb" in p.parts for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets.values():  # environment secrets: nowhere, W&B's files included
            assert secret.encode() not in data, f"{secret} written to {path}"
        if "wandb" not in path.parts:  # W&B keeps its own copy of the raw command line
            assert typed.encode() not in data, f"a typed secret written to {path}"
    assert f"token: {REDACTED}" in (run / "config.yaml").read_text()
