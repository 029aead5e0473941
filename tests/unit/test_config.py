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
        (["dedup.exact=1"], "'dedup.exact' must be bool"),
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
