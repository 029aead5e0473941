import pytest

from corpusforge.config import RunConfig, config_hash, load_config
from corpusforge.errors import ConfigError


def test_defaults_config_and_set_precedence(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[input]\ntext_field = "body"\nmax_record_bytes = 5\n[dedup]\nscope = "run"\n')
    cfg = load_config(path, ["input.max_record_bytes=7"])
    assert cfg.input.text_field == "body"  # config beats defaults
    assert cfg.input.max_record_bytes == 7  # --set beats config
    assert cfg.dedup.scope == "run"
    assert cfg.input.format == "auto"  # untouched default


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["dedup.exactt=true"], "unknown key 'dedup.exactt'"),
        (["nosuch.key=1"], "unknown key 'nosuch'"),
        (["input.max_record_bytes=big"], "'input.max_record_bytes' must be int"),
        (["input.encoding=1"], "'input.encoding' must be str"),
        (["dedup.scope=everywhere"], "'dedup.scope' must be one of"),
        (["normalize.form=NFD"], "'normalize.form' must be one of"),
        (["input.metadata_fields=3"], "'input.metadata_fields' must be a list"),
        (["no_equals_sign"], "expected section.key=value"),
    ],
)
def test_bad_config_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_unknown_key_in_file_and_bad_toml(tmp_path):
    bad_key = tmp_path / "a.toml"
    bad_key.write_text("[pipeline]\nstagez = []\n")
    with pytest.raises(ConfigError, match="unknown key 'pipeline.stagez'"):
        load_config(bad_key)
    bad_toml = tmp_path / "b.toml"
    bad_toml.write_text("[input\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad_toml)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_list_and_table_values():
    cfg = load_config(overrides=['input.metadata_fields=["a", "b"]', 'input.splits={"Train_*"="train"}'])
    assert cfg.input.metadata_fields == ("a", "b")
    assert cfg.input.splits == {"Train_*": "train"}


def test_config_hash_is_stable_and_sensitive():
    assert config_hash(RunConfig()) == config_hash(load_config())
    assert config_hash(load_config(overrides=["dedup.scope=run"])) != config_hash(RunConfig())


@pytest.mark.parametrize(
    "old, new",
    [
        ('minhash.scope="run"', "use dedup.scope"),  # one scope for exact and MinHash dedup
        ("dedup.exact=false", "list or leave out 'exact_dedup' in pipeline.stages"),
        ("dedup_lines.enabled=false", "list or leave out 'dedup_lines' in pipeline.stages"),
    ],
)
def test_retired_keys_name_the_one_switch_that_replaced_them(old, new, tmp_path):
    with pytest.raises(ConfigError, match=f"'{old.partition('=')[0]}' was removed: .*{new}"):
        load_config(overrides=[old])
    section, _, rest = old.partition(".")
    key, _, value = rest.partition("=")
    path = tmp_path / "old.toml"
    path.write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match="was removed"):
        load_config(path)


def test_dedup_scope_is_the_one_scope_of_exact_and_minhash_dedup():
    cfg = load_config(overrides=["dedup.scope=run"])
    assert cfg.dedup.scope == "run" and not hasattr(cfg.minhash, "scope")


def test_false_turns_an_optional_setting_off_in_every_section():
    # One coercer for every section: `false` for an optional threshold is None ("off"), as under [filters].
    assert load_config(overrides=["minhash.threshold=0.8"]).minhash.threshold == 0.8
    assert load_config(overrides=["minhash.threshold=false"]).minhash.threshold is None
    assert load_config(overrides=["filters.gopher_quality.min_stop_words=false"]).filters.params_for(
        "gopher_quality").for_lang("en").min_stop_words is None
    with pytest.raises(ConfigError, match="'minhash.threshold' must be float \\(or false to turn the rule off\\)"):
        load_config(overrides=["minhash.threshold=true"])
