"""The quality-filter stages: one stage per rule family, language-aware, signals kept.

Each family of filters/ (Gopher quality, Gopher repetition, CJK, C4, FineWeb) runs as its own
stage, so `drop_stage` names the family that dropped a page (`filters.c4` with reason
`c4.bad_words`) and a pipeline can leave a family out by not listing it. A stage reads the
`lang` column the langid stage wrote and applies that language's parameters; it merges every
signal its rules computed (`gopher.n_words`, `c4.n_sentences`, ...) into the `quality`
map<string,double> column, so a user can re-filter the documents table with other thresholds
without re-running the pipeline. C4 edits the text: its line cleaning is what a kept page
stores (a page C4 drops keeps its input text in `dropped`, which shows what was judged).

Configuration, per family and per language (built-in per-language defaults of the family
< `[filters.<family>]`, which applies to every language < `[filters.<family>.<lang>]`)::

    [filters.gopher_quality]
    min_words = 80              # every language ...
    [filters.gopher_quality.zh]
    min_words = 120             # ... but Chinese pages need more (jieba words)
    min_stop_words = false      # `false` turns a threshold rule off (the pure params' None)

Keys are the fields of the family's params dataclass (GopherQualityParams, GopherRepetitionParams,
CjkParams, C4Params, FineWebParams); lists become tuples or frozensets as the field declares.
An unknown key or a wrong type is a ConfigError when the config is loaded, before any work.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from corpusforge.errors import ConfigError
from corpusforge.filters.c4 import C4_DEFAULTS, C4Params, c4_quality
from corpusforge.filters.cjk import CJK_DEFAULTS, CjkParams, cjk_quality
from corpusforge.filters.common import ByLanguage
from corpusforge.filters.fineweb import FINEWEB_DEFAULTS, FineWebParams, fineweb_quality
from corpusforge.filters.gopher import (
    GOPHER_QUALITY_DEFAULTS,
    GOPHER_REPETITION_DEFAULTS,
    GopherQualityParams,
    GopherRepetitionParams,
    gopher_quality,
    gopher_repetition,
)
from corpusforge.stage import BatchStage, set_column, with_drops

QUALITY_TYPE = pa.map_(pa.string(), pa.float64())  # Arrow type of the `quality` column

# What a TOML value of a family table may be before it is checked against the params class:
# scalars, lists (of scalars or of pairs, e.g. max_top_ngram_char_frac = [[2, 0.2], [3, 0.18]]),
# and one level of per-language tables of the same.
ConfigScalar = bool | int | float | str
ConfigValue = ConfigScalar | tuple[ConfigScalar | tuple[ConfigScalar, ...], ...]
FamilyTable = dict[str, ConfigValue | dict[str, ConfigValue]]

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]+)?$")


def merge_quality(batch: pa.RecordBatch, signals: list[Mapping[str, float] | None]) -> pa.RecordBatch:
    """Merge per-row `signals` into the batch's `quality` map column (added when missing).

    A signal a later stage computes again replaces the earlier value; rows with None add nothing.

    >>> b = pa.record_batch({"quality": pa.array([[("a", 1.0)], None], QUALITY_TYPE)})
    >>> merge_quality(b, [{"b": 2.0}, None]).column("quality").to_pylist()
    [[('a', 1.0), ('b', 2.0)], None]
    """
    index = batch.schema.get_field_index("quality")
    existing = batch.column(index).to_pylist() if index >= 0 else [None] * batch.num_rows
    merged: list[list[tuple[str, float]] | None] = []
    for before, new in zip(existing, signals):
        if not new:
            merged.append(before)
            continue
        values = dict(before or ())
        values.update((key, float(value)) for key, value in new.items())
        merged.append(list(values.items()))
    return set_column(batch, "quality", pa.array(merged, QUALITY_TYPE))


# One family's rule: (text, params for its language, lang) -> (text to store, reason, signals).
FamilyRule = Callable[[str, Any, str | None], tuple[str, str | None, dict[str, float]]]


def _unchanged(rule: Callable) -> FamilyRule:
    def run(text: str, params: Any, lang: str | None) -> tuple[str, str | None, dict[str, float]]:
        reason, signals = rule(text, params, lang)
        return text, reason, signals

    return run


@dataclass(frozen=True, kw_only=True)
class Family:
    """A rule family as the pipeline sees it: stage name, params class, defaults, rule."""

    key: str  # config section under [filters] and stage name suffix
    params_class: type
    defaults: ByLanguage
    rule: FamilyRule

    @property
    def stage_name(self) -> str:
        return f"filters.{self.key}"


FAMILIES: dict[str, Family] = {
    family.key: family
    for family in (
        Family(key="gopher_quality", params_class=GopherQualityParams, defaults=GOPHER_QUALITY_DEFAULTS,
               rule=_unchanged(gopher_quality)),
        Family(key="gopher_repetition", params_class=GopherRepetitionParams,
               defaults=GOPHER_REPETITION_DEFAULTS, rule=_unchanged(gopher_repetition)),
        Family(key="cjk", params_class=CjkParams, defaults=CJK_DEFAULTS, rule=_unchanged(cjk_quality)),
        Family(key="c4", params_class=C4Params, defaults=C4_DEFAULTS, rule=c4_quality),
        Family(key="fineweb", params_class=FineWebParams, defaults=FINEWEB_DEFAULTS,
               rule=_unchanged(fineweb_quality)),
    )
}


@dataclass(frozen=True, kw_only=True)
class FiltersConfig:
    """The `[filters.<family>]` sections: overrides of each family's built-in per-language params."""

    gopher_quality: FamilyTable = field(default_factory=dict)  # GopherQualityParams keys, [.<lang>] tables
    gopher_repetition: FamilyTable = field(default_factory=dict)  # GopherRepetitionParams keys
    cjk: FamilyTable = field(default_factory=dict)  # CjkParams keys
    c4: FamilyTable = field(default_factory=dict)  # C4Params keys
    fineweb: FamilyTable = field(default_factory=dict)  # FineWebParams keys

    def __post_init__(self) -> None:
        for key in FAMILIES:  # check every key and type now: a bad config stops before any work
            self.params_for(key)

    def params_for(self, family: str) -> ByLanguage:
        """The resolved per-language params of `family` (e.g. 'gopher_quality').

        >>> cfg = FiltersConfig(gopher_quality={"min_words": 80, "zh": {"min_words": 120}})
        >>> p = cfg.params_for("gopher_quality")
        >>> p.for_lang("en").min_words, p.for_lang("zh").min_words, p.for_lang("zh").max_mean_word_length
        (80, 120, 6.0)
        """
        spec = FAMILIES[family]
        return resolve_family(spec, getattr(self, family), f"filters.{family}")


def resolve_family(spec: Family, table: Mapping[str, Any], where: str) -> ByLanguage:
    """Apply a `[filters.<family>]` table (and its language tables) to the family's defaults."""
    hints = typing.get_type_hints(spec.params_class)
    common: dict[str, Any] = {}
    per_language: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            if not _LANGUAGE_CODE.match(key):
                raise ConfigError(f"config: {where}.{key!r} is a table but not a language code like 'zh' or 'en'")
            per_language[key] = _checked(value, hints, f"{where}.{key}")
        else:
            common.update(_checked({key: value}, hints, where))
    default = dataclasses.replace(spec.defaults.default, **common)
    languages = set(spec.defaults.overrides) | set(per_language)
    overrides = {
        lang: dataclasses.replace(spec.defaults.for_lang(lang), **(common | per_language.get(lang, {})))
        for lang in sorted(languages)
    }
    return ByLanguage(default=default, overrides=overrides)


def _checked(table: Mapping[str, Any], hints: dict[str, Any], where: str) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if key not in hints:
            raise ConfigError(
                f"config: unknown key {where + '.' + key!r}; expected one of {sorted(hints)} "
                f"or a language table like [{where}.zh]"
            )
        out[key] = _convert(f"{where}.{key}", value, hints[key])
    return out


def _convert(key: str, value: Any, hint: Any) -> Any:
    """Check a TOML value against a params field's type hint and convert it."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if type(None) in args and value is False and bool not in options:
            return None  # `false` turns a threshold rule off
        for option in options:
            try:
                return _convert(key, value, option)
            except ConfigError:
                continue
        off = " (or false to turn the rule off)" if type(None) in args else ""
        raise ConfigError(f"config: {key!r} must be {_type_name(options)}{off}, got {value!r}")
    if origin in (tuple, frozenset):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config: {key!r} must be a list, got {value!r}")
        if origin is frozenset:
            return frozenset(_convert(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"config: {key!r} must be a list of {len(args)} values, got {value!r}")
        return tuple(_convert(f"{key}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"config: {key!r} must be {_type_name([hint])}, got {value!r}")


def _type_name(options: list[Any]) -> str:
    return " or ".join(getattr(o, "__name__", str(o)) for o in options)


@dataclass(frozen=True)
class QualityFilterStage(BatchStage):
    """Run one rule family on live documents with the params of each document's language."""

    family: Family
    params: ByLanguage
    requires: ClassVar[tuple[str, ...]] = ("text", "lang")
    provides: ClassVar[tuple[tuple[str, str], ...]] = (("quality", "map<string,double>"),)

    @property
    def name(self) -> str:  # type: ignore[override]  # drop_stage: filters.<family>
        return self.family.stage_name

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist()
        stored: list[str | None] = []
        reasons: list[str | None] = []
        signals: list[dict[str, float]] = []
        for text, lang in zip(texts, langs):
            cleaned, reason, row_signals = self.family.rule(text or "", self.params.for_lang(lang), lang)
            # A page this family drops keeps its input text: the dropped table shows what was judged.
            stored.append(text if (reason is not None or text is None) else cleaned)
            reasons.append(reason)
            signals.append(row_signals)
        batch = set_column(batch, "text", pa.array(stored, pa.string()))
        batch = merge_quality(batch, signals)
        return with_drops(batch, reasons)


def _family_stage(key: str) -> Callable[[Any], QualityFilterStage]:
    def factory(ctx) -> QualityFilterStage:
        return QualityFilterStage(FAMILIES[key], ctx.cfg.filters.params_for(key))

    factory.__name__ = f"{key}_stage"
    factory.__doc__ = f"The `filters.{key}` stage of a run, from the `[filters.{key}]` config section."
    return factory


gopher_quality_stage = _family_stage("gopher_quality")
gopher_repetition_stage = _family_stage("gopher_repetition")
cjk_stage = _family_stage("cjk")
c4_stage = _family_stage("c4")
fineweb_stage = _family_stage("fineweb")
