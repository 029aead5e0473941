"""The quality-rule families as the config sees them: `[filters.<family>]` sections resolved per language.

Each family of this package (Gopher quality, Gopher repetition, CJK, C4, FineWeb) runs as its
own stage (`corpusforge.stages.filters`), so `drop_stage` names the family that dropped a page
(`filters.c4` with reason `c4.bad_words`) and a pipeline can leave a family out by not listing
it. This module is pure: it maps each family to its params class, its built-in per-language
defaults and its rule, and resolves the config.

Configuration, per family and per language (built-in per-language defaults of the family
< `[filters.<family>]`, which applies to every language < `[filters.<family>.<lang>]`)::

    [filters.gopher_quality]
    min_words = 80              # every language ...
    [filters.gopher_quality.zh]
    min_words = 120             # ... but Chinese pages need more (jieba words)
    min_stop_words = false      # `false` turns a threshold rule off (the pure params' None)

Keys are the fields of the family's params dataclass (GopherQualityParams, GopherRepetitionParams,
CjkParams, C4Params, FineWebParams), read with the one coercer of every config section
(`corpusforge.typed_config.coerce`). An unknown key or a wrong type is a ConfigError when the
config is loaded, before any work.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
from corpusforge.typed_config import coerce

# What a TOML value of a family table may be before it is checked against the params class:
# scalars, lists (of scalars or of pairs, e.g. max_top_ngram_char_frac = [[2, 0.2], [3, 0.18]]),
# and one level of per-language tables of the same.
ConfigScalar = bool | int | float | str
ConfigValue = ConfigScalar | tuple[ConfigScalar | tuple[ConfigScalar, ...], ...]
FamilyTable = dict[str, ConfigValue | dict[str, ConfigValue]]

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]+)?$")


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
        out[key] = coerce(f"{where}.{key}", value, hints[key])
    return out
