"""Stage and output names → the factories that build them (`pipeline.stages`, `pipeline.outputs`).

A stage factory takes a StageContext and returns its Stage; an output writer takes the
StageContext and the run's kept documents (run_id column included) and writes its tables by
run_id (tables/delta.write_run_rows), before the run is committed. Both are imported only when a
run uses them, so naming one costs nothing.

Example::

    stage_class("langid")                      # LangIdStage: its requires/provides, no Spark work
    build_stages(StageContext(spark=spark, cfg=cfg, output="out", run_id="r1"))
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from corpusforge.config import RunConfig
from corpusforge.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class StageContext:
    """What a stage factory or an output writer may use."""

    spark: object
    cfg: RunConfig
    output: str
    run_id: str
    # Input URIs a finished run read and this run reads again as new versions (modified files):
    # their earlier rows are left out of dedup and replaced in the same commits as the new ones.
    superseded: tuple[str, ...] = ()

    @property
    def staging(self) -> str:
        """The run's staging dir (`staging_dir`), where a stage may write what it reads again."""
        return staging_dir(self.output, self.run_id)


def staging_dir(output: str, run_id: str) -> str:
    """Where a run materializes its intermediate frames; removed at the end of the run."""
    from corpusforge.tables.delta import table_path

    return table_path(output, f"_staging/{run_id}")


# Stage name in `pipeline.stages` → ("module:factory", "module:StageClass"). The class gives the
# stage's `requires`/`provides` for the --dry-run check without building it (no Spark needed).
STAGES: dict[str, tuple[str, str]] = {
    "normalize": ("corpusforge.stages.normalize:normalize_stage", "corpusforge.stages.normalize:NormalizeStage"),
    "langid": ("corpusforge.stages.langid:langid_stage", "corpusforge.stages.langid:LangIdStage"),
    "filters.gopher_quality": ("corpusforge.stages.filters:gopher_quality_stage",
                               "corpusforge.stages.filters:QualityFilterStage"),
    "filters.gopher_repetition": ("corpusforge.stages.filters:gopher_repetition_stage",
                                  "corpusforge.stages.filters:QualityFilterStage"),
    "filters.cjk": ("corpusforge.stages.filters:cjk_stage", "corpusforge.stages.filters:QualityFilterStage"),
    "filters.c4": ("corpusforge.stages.filters:c4_stage", "corpusforge.stages.filters:QualityFilterStage"),
    "filters.fineweb": ("corpusforge.stages.filters:fineweb_stage", "corpusforge.stages.filters:QualityFilterStage"),
    "pii": ("corpusforge.stages.pii:pii_stage", "corpusforge.stages.pii:PiiStage"),
    "boilerplate": ("corpusforge.stages.boilerplate:boilerplate_stage", "corpusforge.stages.boilerplate:BoilerplateStage"),
    "dedup_lines": ("corpusforge.stages.line_dedup:line_dedup_stage", "corpusforge.stages.line_dedup:LineDedupStage"),
    "exact_dedup": ("corpusforge.stages.exact_dedup:exact_dedup_stage", "corpusforge.stages.exact_dedup:ExactDedupStage"),
    "minhash_dedup": ("corpusforge.stages.minhash_dedup:minhash_dedup_stage",
                      "corpusforge.stages.minhash_dedup:MinHashDedupStage"),
}

# Output name in `pipeline.outputs` → "module:writer". A module may also define
# `check_config(cfg)`, run before any work.
OUTPUTS: dict[str, str] = {
    "tokens": "corpusforge.outputs.tokens:write_tokens",
    "minhash_index": "corpusforge.outputs.minhash_index:write_minhash_index",
}


def resolve(spec: str) -> Any:
    """The object a "module:name" spec names, imported on demand.

    >>> resolve("corpusforge.pipeline.registry:resolve").__name__
    'resolve'
    """
    module_name, _, name = spec.partition(":")
    return getattr(importlib.import_module(module_name), name)


def check_names(cfg: RunConfig) -> None:
    """Every stage and output name of the config is known (ConfigError naming the first that is not)."""
    for name in cfg.pipeline.stages:
        if name not in STAGES:
            raise ConfigError(f"pipeline.stages: unknown stage {name!r}; expected one of {sorted(STAGES)}")
    for name in cfg.pipeline.outputs:
        if name not in OUTPUTS:
            raise ConfigError(f"pipeline.outputs: unknown output {name!r}; expected one of {sorted(OUTPUTS)}")


def stage_class(name: str) -> type:
    """The Stage class of stage `name` (its `requires`/`provides`), without building the stage."""
    return resolve(STAGES[name][1])


def stage_factory(name: str) -> Callable[[StageContext], Any]:
    """The factory of stage `name`: StageContext → Stage."""
    return resolve(STAGES[name][0])


def output_writer(name: str) -> Callable[[StageContext, Any], None]:
    """The writer of output `name`: (StageContext, kept frame) → None."""
    return resolve(OUTPUTS[name])


def output_check(name: str) -> Callable[[RunConfig], None] | None:
    """The `check_config(cfg)` of output `name`'s module, when it has one."""
    module_name = OUTPUTS[name].partition(":")[0]
    return getattr(importlib.import_module(module_name), "check_config", None)
