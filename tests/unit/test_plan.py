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


# ---------------------------------------------------------------- any file name reads

ODD_NAMES = ("bad lines ü.jsonl", "50% #1?.jsonl", "日本語 データ.jsonl")


def test_odd_file_names_get_encoded_uris_and_decoded_source_keys(tmp_path):
    from corpusforge.ingest.files import read_file
    from corpusforge.ingest.uris import local_path

    root = tmp_path / "in put"
    root.mkdir()
    for i, name in enumerate(ODD_NAMES):
        (root / name).write_text(f'{{"text": "doc {i}"}}\n', encoding="utf-8")
    plan = plan_inputs([str(root)], None, IngestOptions(splits={"bad lines*": "test"}))
    by_key = {f.source_key: f for f in plan.files}
    # The key is the name as it is (what doc_ids hash); the URI is a URI.
    assert set(by_key) == {f"in put/{name}" for name in ODD_NAMES}
    bad = by_key["in put/bad lines ü.jsonl"]
    assert bad.uri.endswith("/in%20put/bad%20lines%20%C3%BC.jsonl") and bad.split == "test"
    assert by_key["in put/50% #1?.jsonl"].uri.endswith("/50%25%20%231%3F.jsonl")
    for input_file in plan.files:
        assert " " not in input_file.uri and input_file.uri.isascii() and input_file.format == "jsonl"
        assert local_path(input_file.uri) == str(root / input_file.source_key.split("/", 1)[1])
        (record,) = read_file(input_file.uri, input_file.format, IngestOptions())
        assert record.drop_reason is None and record.text.startswith("doc "), input_file.source_key


def test_odd_names_through_a_file_uri_input_and_a_manifest(tmp_path):
    from corpusforge.ingest.uris import local_uri

    (tmp_path / "a b").mkdir()
    target = tmp_path / "a b" / "bad lines ü.jsonl"
    target.write_text('{"text": "x"}\n', encoding="utf-8")
    # --input given as a file:// URI is decoded; as a plain path it is taken as it is.
    (by_uri,) = plan_inputs([local_uri(str(tmp_path / "a b"))], None, IngestOptions()).files
    (by_path,) = plan_inputs([str(tmp_path / "a b")], None, IngestOptions()).files
    assert by_uri == by_path and by_uri.source_key == "a b/bad lines ü.jsonl"
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"a b/bad lines ü.jsonl\n{local_uri(str(target))}\n", encoding="utf-8")
    files = plan_inputs([], str(manifest), IngestOptions()).files
    assert [f.uri for f in files] == [by_uri.uri]  # one file, reached twice, is one input


def test_a_plain_path_with_a_percent_is_a_name_not_an_escape(tmp_path):
    (tmp_path / "100%20.jsonl").write_text('{"text": "x"}\n')
    (input_file,) = plan_inputs([str(tmp_path / "100%20.jsonl")], None, IngestOptions()).files
    assert input_file.uri.endswith("/100%2520.jsonl") and input_file.source_key == "100%20.jsonl"


@pytest.mark.parametrize("name, fmt", [
    ("x.tsv", "tsv"), ("x.TSV.gz", "tsv"), ("x.csv.zst", "csv"), ("x.jsonl.bz2", "jsonl"),
    ("x.txt.lz4", "text"), ("x.warc.zst", None), ("x.gz", None)])
def test_detect_format_of_compressed_line_formats(name, fmt):
    assert detect_format(name) == fmt
