"""Typed run configuration: built-in defaults < `--config run.toml` < `--set section.key=value`.

Every section is a frozen dataclass, and most are the `*Params` dataclasses of the pure modules
that use them (ingest, text, filters, dedup, tokenize): this module imports no stage, so
reading a config loads no Spark. An unknown section or key, or a value of the wrong type, is a
ConfigError naming the key and what was expected, raised before any work. One reader
(`corpusforge.typed_config`) holds the rules for every section: `false` for an optional
threshold means "off" everywhere.

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

from corpusforge.dedup.lines import LineDedupParams
from corpusforge.dedup.minhash import MinHashConfig
from corpusforge.filters.families import FiltersConfig
from corpusforge.ingest.base import IngestOptions
from corpusforge.text.boilerplate import BoilerplateParams
from corpusforge.text.langid import LangIdParams
from corpusforge.text.normalize import NormalizeParams
from corpusforge.tokenize.tokens import TokenizeConfig
from corpusforge.typed_config import build_config, read_toml


@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    """The `[dedup]` section: one switch for exact and MinHash dedup alike. Whether they run at
    all is the stage list (`exact_dedup`, `minhash_dedup` in pipeline.stages)."""

    scope: Literal["run", "index"] = "index"  # 'run': within this run only; 'index': also against earlier runs


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    # Run in this order after ingest: the web-document path (configs/web.toml spells it out).
    # The list is the only switch of a stage: a stage not listed does not run.
    stages: tuple[str, ...] = (
        "normalize", "langid", "filters.gopher_quality", "filters.gopher_repetition",
        "filters.cjk", "filters.c4", "filters.fineweb", "pii", "exact_dedup", "minhash_dedup",
    )
    # Tables written from the kept documents: minhash_index remembers this run's survivors for
    # the next runs' near-dedup (nothing is written without the MinHash stage); add "tokens".
    # exact_index is written whenever the exact_dedup stage ran.
    outputs: tuple[str, ...] = ("minhash_index",)
    dropped_text_chars: int = 2000  # prefix of the text kept in `dropped` rows


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    input: IngestOptions = field(default_factory=IngestOptions)  # ingest/base.py: planner and readers
    normalize: NormalizeParams = field(default_factory=NormalizeParams)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    langid: LangIdParams = field(default_factory=LangIdParams)  # the `langid` stage
    filters: FiltersConfig = field(default_factory=FiltersConfig)  # [filters.<family>] and [filters.<family>.<lang>]
    boilerplate: BoilerplateParams = field(default_factory=BoilerplateParams)  # the `boilerplate` stage
    minhash: MinHashConfig = field(default_factory=MinHashConfig)  # the `minhash_dedup` stage and `minhash_index` output
    dedup_lines: LineDedupParams = field(default_factory=LineDedupParams)  # the `dedup_lines` stage
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)  # the `tokens` output (and `packed`)


# Keys that used to compete with another switch → the one switch to use instead.
RETIRED_KEYS = {
    "minhash.scope": "use dedup.scope, which governs exact and MinHash dedup alike",
    "dedup.exact": "the stage list is the switch: list or leave out 'exact_dedup' in pipeline.stages",
    "dedup_lines.enabled": "the stage list is the switch: list or leave out 'dedup_lines' in pipeline.stages",
}


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Resolve the run config from defaults, an optional TOML file and `--set` overrides.

    >>> load_config(overrides=["dedup.scope=run"]).dedup.scope
    'run'
    >>> load_config(overrides=["minhash.scope=run"])
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: config: 'minhash.scope' was removed: use dedup.scope, which governs exact and MinHash dedup alike
    """
    return build_config(RunConfig, read_toml(path), overrides, retired=RETIRED_KEYS)


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
