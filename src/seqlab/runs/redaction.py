"""Keep secrets out of run folders, logged configs and reports.

A secret is the value of `WANDB_API_KEY` or of any environment variable whose name contains KEY,
TOKEN, SECRET or PASSWORD, the value of any config key or command-line override named like a
credential at any depth (`token`, `hf_token`, `api_key`, `api-key`, `apiKey`, `password`, `auth`,
`Authorization`, ...; not `max_tokens`, `tokenizer` or an id such as a model config's
`eos_token_id`), and a `Bearer …` / `Basic …` credential in
any text. Once found, a secret value is replaced wherever else it appears (e.g. inside Hydra's
`override_dirname`, which joins every override into one string).
Everything seqlab writes about a run (config.yaml, overrides.txt, run.json, Hydra's .hydra/ files,
the config inside checkpoints, model cards, reports) passes through `redact` first.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

REDACTED = "<redacted>"
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_SECRET_KEY = re.compile(
    r"(^|[_-])(token|secret|password|passwd|credentials?|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|auth|authorization|bearer)($|[_-])"
)
_AUTH_HEADER = re.compile(r"\b(Bearer|Basic)\s+[\w.~+/=-]{6,}")
_NEXT_OVERRIDE = re.compile(r",(?=[+~]{0,2}[\w./@-]+=)")
_OVERRIDE = re.compile(r"^([+~]{0,2}[\w./@-]+)=(.*)$", re.DOTALL)
_ID_KEY = re.compile(r"[_-]ids?$")  # bos_token_id, pad_token_ids: vocabulary ids, not credentials
_MIN_SECRET_LEN = 6  # shorter values ("1", "true") would blank out ordinary text


def is_secret_env(name: str) -> bool:
    """Environment variables: WANDB_API_KEY and any name containing KEY, TOKEN, SECRET, PASSWORD."""
    return bool(_SECRET_ENV.search(name))


def is_secret_key(name: str) -> bool:
    """Config keys and overrides: the last dotted part names a credential (hf_token, apiKey)."""
    last = str(name).rsplit(".", 1)[-1].lower()
    return bool(_SECRET_KEY.search(last)) and not _ID_KEY.search(last)


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-named environment variables, longest first (so overlaps redact fully)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_env(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, values: list[str] | None = None) -> str:
    """Replace every secret value (from the environment) and auth header inside free text."""
    for value in secret_values() if values is None else values:
        text = text.replace(value, REDACTED)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _found_secrets(value: Any) -> set[str]:
    """Values held under credential-named keys or overrides anywhere in plain data."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if is_secret_key(k) and isinstance(v, str | int | float) and not isinstance(v, bool):
                found.add(str(v))
            else:
                found |= _found_secrets(v)
    elif isinstance(value, list | tuple):
        for v in value:
            found |= _found_secrets(v)
    elif isinstance(value, str):
        match = _OVERRIDE.match(value)
        if match and is_secret_key(match.group(1)):
            found.add(_NEXT_OVERRIDE.split(match.group(2))[0])  # "a=secret,b=2": Hydra's joins
    return {v for v in found if len(v) >= _MIN_SECRET_LEN and v != REDACTED}


def _redact_string(text: str, values: list[str]) -> str:
    """Secret values, and the value of a `key=value` override whose key names a credential."""
    text = redact_text(text, values)
    match = _OVERRIDE.match(text)
    if match and is_secret_key(match.group(1)) and REDACTED not in match.group(2):
        text = f"{match.group(1)}={REDACTED}"
    return text


def redact(value: Any, values: list[str] | None = None) -> Any:
    """A copy of plain data (dicts, lists, strings) with every secret replaced by `<redacted>`."""
    values = secret_values() if values is None else values
    values = sorted({*values, *_found_secrets(value)}, key=len, reverse=True)
    return _redact(value, values)


def _redact(value: Any, values: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED
            if is_secret_key(k) and isinstance(v, str | int | float) and v not in ("", None)
            else _redact(v, values)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, values) for v in value)
    if isinstance(value, str):
        return _redact_string(value, values)
    return value


def redact_yaml_file(path: Path) -> None:
    """Rewrite a YAML file (Hydra's .hydra/*.yaml, multirun.yaml) only if it holds a secret."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return
    clean = redact(data)
    if clean != data:
        path.write_text(yaml.safe_dump(clean, sort_keys=False, allow_unicode=True), "utf-8")
