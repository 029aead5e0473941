"""Config of the cleaning stages: [langid], [filters.<family>] with per-language tables,
[boilerplate], the shipped configs/ files, and the stage registry."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from corpusforge.config import RunConfig, config_hash, load_config
from corpusforge.errors import ConfigError
from corpusforge.filters.families import FAMILIES, FiltersConfig
from corpusforge.text.langid import detect_language, langid_reason
from corpusforge.pipeline.registry import STAGES as STAGE_FACTORIES
from corpusforge.text.normalize import normalize_text

REPO = Path(__file__).resolve().parents[2]
FIN_SENTENCES = REPO / "tests" / "data" / "fin-sentences"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_filter_config_means_the_builtin_defaults(family):
    resolved = FiltersConfig().params_for(family)
    defaults = FAMILIES[family].defaults
    for lang in (None, "en", "de", "zh", "ja"):
        assert resolved.for_lang(lang) == defaults.for_lang(lang)


def test_thresholds_per_language_in_toml(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        "[filters.gopher_quality]\nmin_words = 80\n"
        "[filters.gopher_quality.zh]\nmin_words = 120\nmin_stop_words = false\n"
        "[filters.gopher_quality.de]\nstop_words = ['der', 'die', 'das']\n"
        "[filters.gopher_repetition]\nmax_top_ngram_char_frac = [[2, 0.25], [3, 0.2]]\n"
        "[filters.c4.en]\nmin_sentences = 3\n",
        encoding="utf-8",
    )
    cfg = load_config(path, ["filters.fineweb.zh.short_line_length=8"])
    quality = cfg.filters.params_for("gopher_quality")
    assert quality.for_lang("en").min_words == 80  # the family table applies to every language
    assert quality.for_lang("zh").min_words == 120 and quality.for_lang("zh").min_stop_words is None
    assert quality.for_lang("zh").max_mean_word_length == 6.0  # built-in zh default kept
    assert quality.for_lang("ja").min_words == 80 and quality.for_lang("ja").min_stop_words == 2
    assert quality.for_lang("de").stop_words == frozenset({"der", "die", "das"})
    repetition = cfg.filters.params_for("gopher_repetition").for_lang("en")
    assert repetition.max_top_ngram_char_frac == ((2, 0.25), (3, 0.2))
    assert cfg.filters.params_for("c4").for_lang("en").min_sentences == 3
    assert cfg.filters.params_for("c4").for_lang("zh").min_sentences == 5
    assert cfg.filters.params_for("fineweb").for_lang("zh").short_line_length == 8
    assert config_hash(cfg) != config_hash(RunConfig())


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["filters.gopher_quality.min_wordz=3"], "unknown key 'filters.gopher_quality.min_wordz'"),
        (["filters.gopher_quality.zh.min_wordz=3"], "unknown key 'filters.gopher_quality.zh.min_wordz'"),
        (["filters.gopher_quality.min_words=many"], "'filters.gopher_quality.min_words' must be int"),
        (["filters.gopher_quality.min_words=true"], "or false to turn the rule off"),
        (["filters.c4.enabled=1"], "'filters.c4.enabled' must be bool"),
        (["filters.c4.policy_phrases=3"], "'filters.c4.policy_phrases' must be a list"),
        (["filters.gopher_repetition.max_top_ngram_char_frac=[[2, 0.1, 3]]"], "must be a list of 2 values"),
        (["filters.nosuch.x=1"], "unknown key 'filters.nosuch'"),
        (['filters.cjk.Chinese={min_cjk_ratio = 0.2}'], "not a language code"),
        (["langid.backend=cld3"], "'langid.backend' must be one of"),
        (["langid.min_score=high"], "'langid.min_score' must be float"),
        (["boilerplate.min_host_docs=2.5"], "'boilerplate.min_host_docs' must be int"),
    ],
)
def test_bad_cleaning_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_every_configured_stage_is_registered():
    for name in ("langid", "pii", "boilerplate", *(f.stage_name for f in FAMILIES.values())):
        assert name in STAGE_FACTORIES
    for path in (REPO / "configs").glob("*.toml"):
        if path.name.startswith(("train_", "sweep", "crawl")):
            continue  # fine-tuning, sweep and crawl configs (jobs/finetune.py, sweep.py, crawl.py), not corpus runs
        cfg = load_config(path)
        assert set(cfg.pipeline.stages) <= set(STAGE_FACTORIES), path.name


def test_web_config_runs_every_family_before_pii_and_dedup():
    stages = load_config(REPO / "configs" / "web.toml").pipeline.stages
    assert stages[:2] == ("normalize", "langid") and stages[-3:] == ("pii", "exact_dedup", "minhash_dedup")
    assert load_config(REPO / "configs" / "web.toml").pipeline == load_config().pipeline  # the default, spelled out
    assert {f"filters.{key}" for key in FAMILIES} <= set(stages)


def test_short_text_config_keeps_real_labelled_sentences():
    # Labelled sentences (the Financial PhraseBank's kind, here tests/data/fin-sentences) are
    # 5-50 words: no document-quality rule runs and no language ID (it would drop evaluation
    # rows); its [langid] section, for mixed-language sets that add the stage, has a low bar
    # that keeps nearly all of them.
    cfg = load_config(REPO / "configs" / "short_text.toml")
    assert not any(stage.startswith("filters.") or stage == "langid" for stage in cfg.pipeline.stages)
    assert cfg.input.format == "csv" and cfg.langid.keep == ("en",)
    sentences = []
    for name in ("Train_Data.csv", "Test_Data.csv"):
        with (FIN_SENTENCES / name).open(encoding="utf-8", newline="") as handle:
            sentences += [row[cfg.input.text_field] for row in csv.DictReader(handle)]
    reasons = [langid_reason(*detect_language(normalize_text(s, cfg.normalize), cfg.langid), cfg.langid)
               for s in sentences]
    assert len(sentences) == 85
    assert sum(r is None for r in reasons) >= 0.97 * len(sentences)
