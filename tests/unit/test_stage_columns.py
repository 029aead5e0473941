"""Stage input columns are checked from the registry before any work (what --dry-run runs)."""
from __future__ import annotations

import pytest

from corpusforge.config import load_config
from corpusforge.errors import ConfigError
from corpusforge.pipeline.registry import STAGES
from corpusforge.pipeline.run import check_pipeline, check_stage_columns
from corpusforge.stages.ingest import record_columns


def test_the_default_pipeline_and_every_shipped_config_pass():
    check_pipeline(load_config())
    check_stage_columns(list(STAGES), record_columns())  # every stage, in registry order


@pytest.mark.parametrize("family", ["gopher_quality", "gopher_repetition", "cjk", "c4", "fineweb"])
def test_a_filter_without_langid_names_the_column_and_the_stage(family):
    cfg = load_config(overrides=[f'pipeline.stages=["normalize", "filters.{family}"]'])
    with pytest.raises(ConfigError, match=f"stage 'filters.{family}' needs column 'lang'.*put 'langid' before it"):
        check_pipeline(cfg)


def test_a_provider_after_the_reader_does_not_count():
    with pytest.raises(ConfigError, match="stage 'filters.c4' needs column 'lang'"):
        check_stage_columns(["filters.c4", "langid"], record_columns())


def test_a_column_nothing_provides_has_no_hint():
    with pytest.raises(ConfigError, match="needs column 'url', which neither ingest nor an earlier stage provides$"):
        check_stage_columns(["boilerplate"], ("doc_id", "text"))


def test_exact_dedup_hashes_the_text_in_the_pass_before_it():
    # the hash needs the text in Python, where the row-local stages before it already have it
    from corpusforge.pipeline.run import _fuse_batch_stages
    from corpusforge.stages.exact_dedup import ExactDedupStage, TextHashStage
    from corpusforge.stages.normalize import NormalizeStage

    normalize, exact = NormalizeStage(), ExactDedupStage()
    groups = _fuse_batch_stages([normalize, exact])
    assert [type(s) for s in groups[0]] == [NormalizeStage, TextHashStage] and groups[1] is exact
    assert isinstance(_fuse_batch_stages([exact])[0][0], TextHashStage)
