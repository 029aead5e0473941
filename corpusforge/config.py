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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from corpusforge.typed_config import build_config, read_toml
from corpusforge.dedup.lines import LineDedupParams
from corpusforge.dedup.stage import MinHashConfig
from corpusforge.filters.stage import FiltersConfig
from corpusforge.langid import LangIdParams
from corpusforge.text.boilerplate import BoilerplateParams
from corpusforge.text.normalize import NormalizeParams
from corpusforge.tokenize.stage import TokenizeConfig


@dataclass(frozen=True, kw_only=True)
class InputConfig:
    format: Literal["auto", "warc", "wet", "arc", "jsonl", "parquet", "csv", "tsv", "text"] = "auto"  # auto (by file extension) | warc | wet | arc | jsonl | parquet | csv | tsv | text
    source: str = ""  # dataset name in source_key/doc_id ('' = the input's base name)
    text_field: str = "text"  # JSONL/Parquet/CSV field holding the text
    id_field: str = ""  # field holding the input's own id ('' = line/row number or byte offset)
    label_field: str = ""  # field holding a class label, carried through to tokens
    metadata_fields: tuple[str, ...] = ()  # further fields kept in the `metadata` column
    text_unit: Literal["file", "line"] = "file"  # plain text: one document per 'file' or per non-blank 'line'
    encoding: str = "utf-8"  # CSV and plain-text encoding
    max_record_bytes: int = 10_000_000  # larger records are dropped as ingest.too_large
    html_extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"  # resiliparse | trafilatura
    warc_reader: Literal["fastwarc", "warcio"] = "fastwarc"  # fastwarc | warcio
    # File-name glob → split, e.g. {"Train_*" = "train", "Test_*" = "test"}; first match wins.
    splits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    exact: bool = True  # drop documents whose dedup-key hash was seen before
    scope: Literal["run", "index"] = "index"  # 'run': within this run only; 'index': also against earlier runs


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


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Resolve the run config from defaults, an optional TOML file and `--set` overrides.

    >>> load_config(overrides=["dedup.scope=run"]).dedup.scope
    'run'
    """
    return build_config(RunConfig, read_toml(path), overrides)


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
