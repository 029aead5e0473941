"""Typed run configuration: built-in defaults < `--config run.toml` < `--set section.key=value`.

Every section is a frozen dataclass; an unknown section or key, or a value of the wrong type,
is a ConfigError naming the key and what was expected, raised before any work.

Example::

    cfg = load_config("run.toml", overrides=["dedup.scope=run", "input.text_field=body"])
    cfg.dedup.scope          # 'run'
    config_hash(cfg)         # 16 hex chars, stored in the ledger with the run
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.errors import ConfigError
from corpusforge.dedup.lines import LineDedupParams
from corpusforge.dedup.stage import MinHashConfig
from corpusforge.filters.stage import FiltersConfig
from corpusforge.langid import LangIdParams
from corpusforge.text.boilerplate import BoilerplateParams
from corpusforge.text.normalize import NormalizeParams
from corpusforge.tokenize.stage import TokenizeConfig


@dataclass(frozen=True, kw_only=True)
class InputConfig:
    format: str = "auto"  # auto (by file extension) | warc | wet | arc | jsonl | parquet | csv | text
    source: str = ""  # dataset name in source_key/doc_id ('' = the input's base name)
    text_field: str = "text"  # JSONL/Parquet/CSV field holding the text
    id_field: str = ""  # field holding the input's own id ('' = line/row number or byte offset)
    label_field: str = ""  # field holding a class label, carried through to tokens
    metadata_fields: tuple[str, ...] = ()  # further fields kept in the `metadata` column
    text_unit: str = "file"  # plain text: one document per 'file' or per non-blank 'line'
    encoding: str = "utf-8"  # CSV and plain-text encoding
    max_record_bytes: int = 10_000_000  # larger records are dropped as ingest.too_large
    html_extractor: str = "resiliparse"  # resiliparse | trafilatura
    warc_reader: str = "fastwarc"  # fastwarc | warcio
    # File-name glob → split, e.g. {"Train_*" = "train", "Test_*" = "test"}; first match wins.
    splits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    exact: bool = True  # drop documents whose dedup-key hash was seen before
    scope: str = "index"  # 'run': within this run only; 'index': also against earlier runs


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    # Run in this order after ingest: the web-document path (configs/web.toml spells it out).
    stages: tuple[str, ...] = (
        "normalize", "langid", "filters.gopher_quality", "filters.gopher_repetition",
        "filters.cjk", "filters.c4", "filters.fineweb", "pii", "exact_dedup", "minhash_dedup",
    )
    # Tables written from the kept documents: minhash_index remembers this run's survivors for
    # the next runs' near-dedup (nothing is written without the MinHash stage); add "tokens".
    outputs: tuple[str, ...] = ("minhash_index",)
    dropped_text_chars: int = 2000  # prefix of the text kept in `dropped` rows


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    input: InputConfig = field(default_factory=InputConfig)
    normalize: NormalizeParams = field(default_factory=NormalizeParams)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    langid: LangIdParams = field(default_factory=LangIdParams)  # the `langid` stage
    filters: FiltersConfig = field(default_factory=FiltersConfig)  # [filters.<family>] and [filters.<family>.<lang>]
    boilerplate: BoilerplateParams = field(default_factory=BoilerplateParams)  # the `boilerplate` stage
    minhash: MinHashConfig = field(default_factory=MinHashConfig)  # the `minhash_dedup` stage and `minhash_index` output
    dedup_lines: LineDedupParams = field(default_factory=LineDedupParams)  # the `dedup_lines` stage
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)  # the `tokens` output (and `packed`)


_CHOICES = {
    "input.format": ("auto", "warc", "wet", "arc", "jsonl", "parquet", "csv", "text"),
    "input.text_unit": ("file", "line"),
    "input.html_extractor": ("resiliparse", "trafilatura"),
    "input.warc_reader": ("fastwarc", "warcio"),
    "dedup.scope": ("run", "index"),
}


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Resolve the run config from defaults, an optional TOML file and `--set` overrides.

    >>> load_config(overrides=["dedup.scope=run"]).dedup.scope
    'run'
    """
    return build_config(RunConfig, read_toml(path), overrides)


def read_toml(path: str | Path | None) -> dict[str, Any]:
    """The tables of a TOML config file ({} for no file); a missing or bad file is a ConfigError."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: invalid TOML: {err}") from None


def build_config(cls: type, raw: dict[str, Any], overrides: list[str] = ()) -> Any:
    """A config dataclass `cls` from plain data plus `--set section.key=value` overrides.

    >>> build_config(RunConfig, {"dedup": {"scope": "run"}}, ["dedup.exact=false"]).dedup
    DedupConfig(exact=False, scope='run')
    """
    raw = json.loads(json.dumps(raw))  # a deep copy: overrides never touch the caller's data
    for item in overrides:
        _apply_override(raw, item)
    return _build(cls, raw, prefix="")


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    try:  # a TOML literal (number, bool, array, quoted string) ...
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:  # ... else the bare text as a string
        value = text
    *sections, leaf = key.strip().split(".")
    node = raw
    for section in sections:
        node = node.setdefault(section, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {item!r}: {section!r} is not a section")
    node[leaf] = value


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"config: unknown key {prefix + unknown[0]!r}; expected one of {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        key = prefix + name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key + ".")
        else:
            values[name] = _coerce(key, value, hint)
    return cls(**values)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"config: {key!r} must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config: {key!r} must be a list, got {value!r}")
        (item_type, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(f"{key}[{i}]", v, item_type) for i, v in enumerate(value))
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"config: {key!r} must be a table, got {value!r}")
        return {str(k): _coerce(f"{key}.{k}", v, value_type) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if option is type(None) and value is None:
                return None
            try:
                return _coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"config: {key!r} must be {hint}, got {value!r}")
    expected = hint
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            f"config: {key!r} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    choices = _CHOICES.get(key)
    if choices and value not in choices:
        raise ConfigError(f"config: {key!r} must be one of {list(choices)}, got {value!r}")
    return value


def config_dict(cfg: RunConfig) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_hash(cfg: RunConfig) -> str:
    """A stable 16-hex hash of the resolved config, stored with every run in the ledger.

    >>> config_hash(RunConfig()) == config_hash(load_config())
    True
    """
    canonical = json.dumps(config_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
