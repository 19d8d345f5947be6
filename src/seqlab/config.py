"""Config checks that run before any compute: keys, types, choices and compatible combinations.

Hydra already refuses overrides of keys that don't exist; these checks also catch typos inside config
files, values of the wrong type and group options that don't exist, each as one line that names the
key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

import seqlab.resolvers  # noqa: F401  (registers the resolvers conf/ uses)
from seqlab.data.dataset_readers import ERROR_MODES, READERS
from seqlab.data.tokenizers import KINDS as TOKENIZER_KINDS
from seqlab.errors import SeqlabError
from seqlab.generation.options import STRATEGIES, DecodingOptions
from seqlab.metrics.names import TASK_METRICS
from seqlab.planning.settings import PlanSettings

CONF_DIR = Path(__file__).resolve().parent / "conf"


@dataclasses.dataclass
class Loader:
    batch_size: int = 1
    eval_batch_size: int | None = None
    max_tokens: int | None = None
    bucket_pool: int | None = None
    bucket_by: str = "source"
    num_workers: int = 0


@dataclasses.dataclass
class Paths:
    data_dir: str = ""
    cache_dir: str = ""
    log_dir: str = ""
    output_dir: str = ""


@dataclasses.dataclass
class Tokenizer:
    kind: str = ""
    shared_vocab: bool = True
    vocab_size: int | None = None
    min_freq: int = 1
    fit_max_chars: int | None = None
    name: str | None = None  # tokenizer=pretrained: the folder or hub model whose tokenizer.json


@dataclasses.dataclass
class Size:
    d_model: int = 0
    n_layers: int = 0
    n_heads: int = 0
    d_ff: int = 0
    dropout: float = 0.0


@dataclasses.dataclass
class Cleaning:
    normalize: str | None = None
    collapse_whitespace: bool = True
    lowercase: bool = False
    min_len: int = 1
    max_len: int | None = None
    too_long: str = "drop"


@dataclasses.dataclass
class Data:
    name: str = ""
    reader: str = ""
    generator: Any | None = None
    hf: Any | None = None
    split: str | None = None
    splits: Any | None = None
    files: Any | None = None
    columns: Any | None = None
    val_fraction: float | None = None
    test_fraction: float | None = None
    test_from_val: bool = False
    split_seed: int = 0
    errors: str = "strict"
    src_lang: str | None = None
    tgt_lang: str | None = None
    file_langs: list[str] | None = None
    targets: str | None = None
    tasks: Any | None = None
    task_names: Any | None = None
    path: Any | None = None  # a file, or a list of files (text_file)
    format: str | None = None
    header: bool = False
    fields: Any | None = None
    license: str | None = None
    url: str | None = None
    commercial_use: bool | None = None
    primary_metric: str | None = None
    cleaning: Cleaning = dataclasses.field(default_factory=Cleaning)


@dataclasses.dataclass
class Task:
    name: str = ""
    kind: str = ""
    monitor: str = ""
    monitor_mode: str = "min"
    primary_metric: str | None = None
    block_size: int | None = None
    label_smoothing: float = 0.0
    val_generate_limit: int | None = None
    bleu_tokenize: str = "auto"
    metrics: list[str] = dataclasses.field(default_factory=list)
    max_src_len: int | None = None
    keep_src: str = "first"
    noise: dict[str, float] | None = None


@dataclasses.dataclass
class Model:
    name: str = ""
    family: str = ""
    compile: Any = False  # false, true, or torch.compile arguments: see `compile_kwargs`
    net: Any = None
    init_from: str | None = None  # model=gpt: a GPT-2 folder to start from (seqlab.runs.pretrained)
    pretrained: str | None = None  # model=hf_causal_lm / hf_seq2seq: a transformers folder or hub
    config: Any | None = None  # model=hf_causal_lm / hf_seq2seq: its transformers config
    freeze: list[str] = dataclasses.field(default_factory=list)  # parts not to train
    gradient_checkpointing: bool = False  # model=hf_*: recompute activations in the backward
    adapter: str | None = None  # model=hf_*: lora
    lora: Any | None = None  # model.adapter=lora's settings (seqlab.models.hf.finetune)
    forced_bos_token_id: int | None = None  # model=hf_seq2seq: the first generated token


@dataclasses.dataclass
class Extras:
    print_config: bool = False
    ignore_warnings: bool = True


SCHEMAS = {
    "loader": Loader,
    "paths": Paths,
    "tokenizer": Tokenizer,
    "size": Size,
    "data": Data,
    "task": Task,
    "decoding": DecodingOptions,
    "model": Model,
    "extras": Extras,
    "plan": PlanSettings,
}
TOP_LEVEL = {
    *SCHEMAS,
    *("name", "seed", "train", "test", "ckpt_path", "resume", "skip_completed", "optimized_metric"),
    "resume_data_changed",
    *("optimizer", "scheduler", "trainer", "logger", "callbacks"),
}
# task.kind → model families that can run it (decoder-only models run seq2seq tasks as prefix LM),
# and the data formats it reads (denoising pairs each text line, or each pair's target, with itself).
COMPATIBLE = {
    "lm": (("lm",), ("text",)),
    "seq2seq": (("seq2seq", "lm"), ("pairs",)),
    "denoise": (("seq2seq", "lm"), ("text", "pairs")),
}
# Each list lives with the code that acts on it.
CHOICES = {
    "tokenizer.kind": TOKENIZER_KINDS,
    "data.reader": tuple(READERS),
    "data.errors": ERROR_MODES,
    "task.kind": tuple(COMPATIBLE),
    "task.monitor_mode": ("min", "max"),
    "model.family": ("seq2seq", "lm"),
    "decoding.strategy": STRATEGIES,
    "loader.bucket_by": ("source", "target"),
}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v: Any) -> bool:
    return _number(v) and v > 0


def _fraction(v: Any) -> bool:
    return _number(v) and 0 <= v < 1


# Ranges a key must be in (null is allowed where the schema allows it: it means "unset"). A batch of
# zero examples would never end an epoch; a negative length would empty every split.
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "loader.batch_size": (_positive, "a positive number of examples per batch"),
    "loader.eval_batch_size": (_positive, "a positive batch size, or null for loader.batch_size"),
    "loader.max_tokens": (_positive, "a positive token budget per batch, or null for none"),
    "loader.bucket_pool": (_positive, "a positive number of batches per pool, or null"),
    "loader.num_workers": (lambda v: _number(v) and v >= 0, "0 (the main process) or more"),
    "optimizer.lr": (_positive, "a finite learning rate above 0"),
    "data.cleaning.min_len": (lambda v: _number(v) and v >= 0, "0 or more tokens"),
    "data.cleaning.max_len": (_positive, "a positive number of tokens, or null for no limit"),
    "data.val_fraction": (_fraction, "a fraction in [0, 1)"),
    "data.test_fraction": (_fraction, "a fraction in [0, 1)"),
    "task.block_size": (_positive, "a positive context length in tokens"),
    "task.label_smoothing": (_fraction, "a fraction in [0, 1)"),
    "trainer.accumulate_grad_batches": (_positive, "a positive number of batches"),
}
# Sizes the networks take under these names (each a positive whole number), and the width / heads
# pairs whose heads must divide the width.
NET_SIZES = (
    *("d_model", "n_embd", "embed_dim", "hidden_size", "d_ff", "max_len", "block_size"),
    *("n_heads", "n_head", "n_layer", "num_layers", "n_encoder_layers", "n_decoder_layers"),
)
WIDTH_HEADS = (("d_model", "n_heads"), ("n_embd", "n_head"))


def _defaults_to_none(net: Mapping, key: str) -> bool:
    """Whether the network's class defaults ``key`` to None (a size it reads off its weights)."""
    try:
        parameter = inspect.signature(get_object(str(net.get("_target_")))).parameters.get(key)
    except Exception:  # no such class: reported where the network is built
        return False
    return parameter is not None and parameter.default is None


def check_ranges(plain: Mapping) -> None:
    """Values in range and sizes that fit together: types alone let a batch of 0 hang a run."""
    for dotted, (ok, allowed) in RANGES.items():
        value: Any = plain
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and not ok(value):
            raise SeqlabError(f"config key '{dotted}': {value!r} is out of range; use {allowed}")
    net = plain["model"].get("net") or {}
    for key in NET_SIZES:
        if key in net and net[key] is None and _defaults_to_none(net, key):
            continue
        if key in net and not (_positive(net[key]) and float(net[key]).is_integer()):
            raise SeqlabError(
                f"config key 'model.net.{key}': {net[key]!r} is out of range; use a positive "
                "whole number (or set size.* for the model's size)"
            )
    if "dropout" in net and not _fraction(net["dropout"]):
        raise SeqlabError(
            f"config key 'model.net.dropout': {net['dropout']!r} is out of range; use a "
            "probability in [0, 1)"
        )
    for width, heads in WIDTH_HEADS:
        if width in net and heads in net and net[width] % net[heads]:
            raise SeqlabError(
                f"config key 'model.net.{heads}': {net[heads]} heads do not divide the width "
                f"model.net.{width}={net[width]}; pick a divisor of {net[width]} (size.n_heads)"
            )
    cleaning = plain["data"].get("cleaning") or {}
    if (cleaning.get("max_len") or math.inf) < cleaning.get("min_len", 0):
        raise SeqlabError(
            f"config keys 'data.cleaning.min_len' ({cleaning['min_len']}) and 'max_len' "
            f"({cleaning['max_len']}): no example can be both; lower min_len or raise max_len"
        )


def _one_line(e: OmegaConfBaseException) -> str:
    return str(e).splitlines()[0].strip()


def check_schema(section: str, value: Any, schema: type) -> None:
    fields = {f.name for f in dataclasses.fields(schema)}
    for key in value:
        if key not in fields:
            raise SeqlabError(
                f"unknown config key '{section}.{key}'; valid keys of {section}: "
                f"{', '.join(sorted(fields))}"
            )
    try:
        OmegaConf.merge(OmegaConf.structured(schema), value)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        raise SeqlabError(f"config key '{section}.{key}': {_one_line(e)}") from None


def _simple_type(hint: Any) -> Any:
    """`Optional[int]` → int (null is allowed anyway); other unions are not checked."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return hint


def _check_target(section: str, value: Mapping) -> None:
    """Keys of a `_target_` section must be arguments of the target; simple types must match."""
    target = value.get("_target_")
    if not target:
        return
    try:
        obj = get_object(target)
    except Exception:
        raise SeqlabError(f"config key '{section}._target_': cannot import {target!r}") from None
    fn = obj.__init__ if inspect.isclass(obj) else obj
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    for key, v in value.items():
        if key.startswith("_") and key.endswith("_"):
            continue
        if key not in params:
            valid = ", ".join(k for k in params if k not in ("self", "args", "kwargs"))
            raise SeqlabError(f"unknown config key '{section}.{key}' for {target}; valid: {valid}")
        expected = _simple_type(hints.get(key))
        if v is None:  # null means "unset": the code or the library fills it in
            continue
        if expected in (int, float) and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise SeqlabError(f"config key '{section}.{key}': expected a number, got {v!r}")
        if expected is int and isinstance(v, float):
            raise SeqlabError(f"config key '{section}.{key}': expected an integer, got {v!r}")
        if expected is bool and not isinstance(v, bool):
            raise SeqlabError(f"config key '{section}.{key}': expected true or false, got {v!r}")


COMPILE_ARGS = ("mode", "options", "dynamic", "fullgraph", "backend")


def compile_kwargs(value: Any) -> dict | None:
    """`model.compile` as `torch.compile` keyword arguments; None when not compiling.

    `true` takes torch's defaults; a mapping picks a mode or inductor options, e.g.
    `{options: {cpp_wrapper: true}}`, which on CPU moves the generated wrapper from Python to C++
    and makes small models' steps measurably faster (experiments/benchmarks/README.md).
    """
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(COMPILE_ARGS))
        if not unknown:
            return dict(value)
        raise SeqlabError(
            f"config key 'model.compile.{unknown[0]}' is not a torch.compile argument; "
            f"valid: {', '.join(COMPILE_ARGS)}"
        )
    raise SeqlabError(
        f"config key 'model.compile': expected true, false or a mapping of torch.compile "
        f"arguments ({', '.join(COMPILE_ARGS)}), got {value!r}"
    )


def validate(cfg: DictConfig) -> None:
    """Raise SeqlabError (one line) for the first problem in a composed train config."""
    check_compatible(
        {
            k: OmegaConf.to_container(cfg[k], resolve=False)
            for k in ("task", "model", "data", "tokenizer")
        }
    )
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.pop("hydra", None)
    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", "")
        raise SeqlabError(f"config key '{key}': {_one_line(e)}") from None
    for key in plain:
        if key not in TOP_LEVEL:
            raise SeqlabError(
                f"unknown top-level config key '{key}'; valid: {', '.join(sorted(TOP_LEVEL))}"
            )
    for section, schema in SCHEMAS.items():
        check_schema(section, plain.get(section) or {}, schema)
    for dotted, choices in CHOICES.items():
        section, key = dotted.split(".")
        value = (plain.get(section) or {}).get(key)
        if value not in choices:
            raise SeqlabError(
                f"config key '{dotted}': {value!r} is not valid; choose one of {', '.join(choices)}"
            )
    if plain.get("resume_data_changed", "refuse") not in ("refuse", "allow"):
        raise SeqlabError(
            f"config key 'resume_data_changed': {plain['resume_data_changed']!r} is not valid; "
            "choose refuse or allow"
        )
    check_data_options(plain["data"])
    compile_kwargs(plain["model"].get("compile"))
    DecodingOptions.from_config(plain["decoding"])
    _check_target("model.net", plain["model"]["net"])
    check_finetune(plain["model"])
    for section in ("optimizer", "scheduler", "trainer"):
        if plain.get(section):
            _check_target(section, plain[section])
    for group in ("logger", "callbacks"):
        for name, value in (plain.get(group) or {}).items():
            _check_target(f"{group}.{name}", value)
    check_logger_packages(plain.get("logger") or {})
    check_ranges(plain)


# Models whose parts `model.freeze` can name, as the user picks them.
FREEZABLE = (
    "gpt",
    "transformer_seq2seq",
    "gru_seq2seq",
    "lstm_seq2seq",
    "hf_causal_lm",
    "hf_seq2seq",
)
LORA_RANGES = {"r": (lambda v: isinstance(v, int) and _positive(v), "a positive integer"),
               "alpha": (_positive, "a positive number"), "dropout": (_fraction, "in [0, 1)")}  # fmt: skip


def check_finetune(model: Mapping) -> None:
    """``model.freeze``, ``gradient_checkpointing`` and ``adapter``: known names, on models that
    have them (the parts of one architecture are checked when the network is built)."""
    from seqlab.models.hf.finetune import ADAPTERS, LORA_KEYS
    from seqlab.models.parts import PART_NAMES
    from seqlab.runs.hf import ADAPTERS as HF_MODELS

    target = str(model["net"].get("_target_"))
    for name in model.get("freeze") or []:
        if name not in PART_NAMES:
            raise SeqlabError(f"config key 'model.freeze': {name!r} is not a part; choose from "
                              f"{', '.join(PART_NAMES)}")  # fmt: skip
        if not hasattr(get_object(target), "parts"):
            raise SeqlabError(f"config key 'model.freeze': {target.rsplit('.', 1)[-1]} has no parts "
                              f"to freeze; models that do: {', '.join(FREEZABLE)}")  # fmt: skip
    hf = target in HF_MODELS
    for key in ("gradient_checkpointing", "adapter"):
        if model.get(key) and not hf:
            raise SeqlabError(f"config key 'model.{key}': only model=hf_causal_lm and "
                              f"model=hf_seq2seq support it; leave it unset")  # fmt: skip
    adapter = model.get("adapter")
    if adapter is None:
        return
    if adapter not in ADAPTERS:
        raise SeqlabError(f"config key 'model.adapter': {adapter!r} is not valid; choose null or "
                          f"{', '.join(ADAPTERS)}")  # fmt: skip
    if not model.get("pretrained"):
        raise SeqlabError("config key 'model.adapter': LoRA trains on pre-trained weights that "
                          "checkpoints do not store; set model.pretrained=<hub name or folder>")  # fmt: skip
    lora = model.get("lora") or {}
    for key in lora:
        if key not in LORA_KEYS:
            raise SeqlabError(f"unknown config key 'model.lora.{key}'; valid keys of model.lora: "
                              f"{', '.join(LORA_KEYS)}")  # fmt: skip
    for key, (ok, what) in LORA_RANGES.items():
        if not ok(lora.get(key)):
            raise SeqlabError(f"config key 'model.lora.{key}': {lora.get(key)!r} is not valid; "
                              f"give {what}")  # fmt: skip
    modules = lora.get("target_modules")
    if modules is not None and not (isinstance(modules, list) and modules
                                    and all(isinstance(m, str) for m in modules)):  # fmt: skip
        raise SeqlabError(f"config key 'model.lora.target_modules': {modules!r} is not valid; give "
                          "a list of module names, e.g. [q_proj, v_proj], or null for peft's "
                          "default")  # fmt: skip


# Loggers whose library is an optional extra: (class name, module, extra).
OPTIONAL_LOGGERS = (("MLFlowLogger", "mlflow", "mlflow"),)


def check_logger_packages(loggers: Mapping) -> None:
    """A chosen logger whose library is not installed, named before any folder is created."""
    for name, value in loggers.items():
        target = str((value or {}).get("_target_", ""))
        for cls, module, extra in OPTIONAL_LOGGERS:
            if target.endswith(f".{cls}") and importlib.util.find_spec(module) is None:
                others = ",".join(k for k in loggers if k != name) or "csv"
                raise SeqlabError(
                    f"config key 'logger.{name}': {module} is not installed; "
                    f"pip install 'seqlab[{extra}]', or leave it out: logger=[{others}]"
                )


def check_data_options(data: Mapping) -> None:
    """Reader-specific data settings (languages, bAbI tasks, file format), before reading files."""
    from seqlab.data.dataset_readers import reader_for

    reader_for(data)


def check_compatible(plain: Mapping) -> None:
    """task × model × data combinations that can run together."""
    from seqlab.data.dataset_readers import reader_format

    kind, family = plain["task"]["kind"], plain["model"]["family"]
    if kind not in COMPATIBLE:
        return  # reported with the valid choices by the schema checks
    families, formats = COMPATIBLE[kind]
    works = "; ".join(
        f"task.kind={k} runs on model.family={'/'.join(f)} with {'/'.join(d)} data"
        for k, (f, d) in COMPATIBLE.items()
    )
    if family not in families:
        raise SeqlabError(
            f"task '{plain['task']['name']}' ({kind}) cannot run on model family '{family}'; {works}"
        )
    fmt = reader_format(plain["data"])
    if fmt not in formats:
        raise SeqlabError(
            f"task '{plain['task']['name']}' ({kind}) needs {'/'.join(formats)} data, but dataset "
            f"'{plain['data']['name']}' gives {fmt}; {works}"
        )
    unknown = sorted(set(plain["task"].get("metrics") or ()) - set(TASK_METRICS))
    if unknown:
        raise SeqlabError(
            f"config key 'task.metrics': unknown metric {unknown[0]!r}; valid: {', '.join(TASK_METRICS)}"
        )
    if plain["task"].get("keep_src", "first") not in ("first", "last"):
        raise SeqlabError(
            f"config key 'task.keep_src': {plain['task']['keep_src']!r} is not valid; "
            "choose one of first, last"
        )
    if kind == "denoise":
        from seqlab.data.noise import Noise

        Noise.from_config(plain["task"].get("noise"))
    if family == "lm" and kind != "lm" and not plain.get("tokenizer", {}).get("shared_vocab", True):
        raise SeqlabError(
            "decoder-only models read source and target with one vocabulary; set "
            "tokenizer.shared_vocab=true or use an encoder–decoder model"
        )


_GROUP_OVERRIDE = re.compile(r"^(?:\+|~|\+\+)?([a-z_][a-z0-9_/]*)=(.*)$")


def check_group_overrides(args: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Unknown group options on the command line fail with the list of valid ones (one line)."""
    for arg in args:
        match = _GROUP_OVERRIDE.match(arg)
        if not match or "@" in arg:
            continue
        group, value = match.groups()
        folder = conf_dir / group
        if not folder.is_dir() or value.startswith(("glob(", "choice(", "range(", "interval(")):
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        for option in (
            value.replace("[", ",").replace("]", ",").split(",")
        ):  # a,b (sweep), [a,b] (both)
            option = option.strip().strip("'\"")
            if option in ("null", "") or option in options:
                continue
            raise SeqlabError(
                f"unknown option '{option}' for config group '{group}'; valid: {', '.join(options)}"
            )
