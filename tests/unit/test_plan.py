import gzip
import os

import pytest

from corpusforge.ingest.base import IngestOptions
from corpusforge.errors import InputError
from corpusforge.ingest import detect_format
from corpusforge.ingest.plan import plan_inputs


def _tree(root):
    (root / "crawl" / "sub").mkdir(parents=True)
    (root / "crawl" / "a.jsonl").write_text('{"text": "x"}\n')
    (root / "crawl" / "sub" / "b.warc.gz").write_bytes(b"")
    (root / "crawl" / "LICENSE").write_text("text")
    return root / "crawl"


def test_directory_gives_relative_source_keys_and_skips_unknown(tmp_path):
    crawl = _tree(tmp_path)
    plan = plan_inputs([str(crawl)], None, IngestOptions())
    assert [(f.source_key, f.format) for f in plan.files] == [
        ("crawl/a.jsonl", "jsonl"), ("crawl/sub/b.warc.gz", "warc")]
    assert all(f.uri.startswith("file:///") for f in plan.files)
    assert [os.path.basename(u) for u in plan.skipped_unknown_format] == ["LICENSE"]


def test_source_key_does_not_depend_on_where_the_data_lives(tmp_path):
    one = plan_inputs([str(_tree(tmp_path / "x"))], None, IngestOptions())
    two = plan_inputs([str(_tree(tmp_path / "y" / "deeper"))], None, IngestOptions())
    assert [f.source_key for f in one.files] == [f.source_key for f in two.files]


def test_glob_root_is_the_non_glob_prefix(tmp_path):
    crawl = _tree(tmp_path)
    plan = plan_inputs([f"{crawl}/**/*.warc.gz"], None, IngestOptions(source="cc"))
    assert [f.source_key for f in plan.files] == ["cc/sub/b.warc.gz"]


def test_missing_path_and_empty_glob_name_the_input(tmp_path):
    with pytest.raises(InputError, match="input not found: .*nope"):
        plan_inputs([str(tmp_path / "nope")], None, IngestOptions())
    with pytest.raises(InputError, match=r"matches no file: .*\*\.parquet"):
        plan_inputs([f"{tmp_path}/*.parquet"], None, IngestOptions())
    with pytest.raises(InputError, match="no input"):
        plan_inputs([], None, IngestOptions())


def test_manifest_gz_relative_lines_and_splits(tmp_path):
    _tree(tmp_path)
    manifest = tmp_path / "warc.paths.gz"
    with gzip.open(manifest, "wt") as handle:
        handle.write("crawl/a.jsonl\n\ncrawl/sub/b.warc.gz\n")
    plan = plan_inputs([], str(manifest), IngestOptions(splits={"a.*": "test"}))
    assert [(f.source_key, f.split) for f in plan.files] == [
        ("warc/crawl/a.jsonl", "test"), ("warc/crawl/sub/b.warc.gz", None)]
    missing = tmp_path / "m.txt"
    missing.write_text("crawl/none.jsonl\n")
    with pytest.raises(InputError, match="input not found: crawl/none.jsonl"):
        plan_inputs([], str(missing), IngestOptions())


def test_forced_format_reads_every_file(tmp_path):
    crawl = _tree(tmp_path)
    plan = plan_inputs([str(crawl)], None, IngestOptions(format="text"))
    assert {f.format for f in plan.files} == {"text"} and not plan.skipped_unknown_format


@pytest.mark.parametrize("name, fmt", [
    ("x.warc", "warc"), ("x.warc.lz4", "warc"), ("x.warc.wet.gz", "wet"), ("x.arc.gz", "arc"),
    ("x.JSONL", "jsonl"), ("x.parquet", "parquet"), ("x.csv", "csv"), ("x.txt.gz", "text"),
    ("x.warc.gz.bad", None), ("README", None)])
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_symlinked_input_keys_follow_the_given_path_and_uris_are_canonical(tmp_path):
    crawl = _tree(tmp_path / "real")
    (tmp_path / "current").symlink_to(crawl, target_is_directory=True)
    plan = plan_inputs([str(tmp_path / "current")], None, IngestOptions())
    assert [f.source_key for f in plan.files] == ["current/a.jsonl", "current/sub/b.warc.gz"]
    assert plan.files[0].uri == f"file://{(crawl / 'a.jsonl').resolve()}"
