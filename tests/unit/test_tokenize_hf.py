"""Hugging Face tokenizers on Arrow batches, with the real vocabularies in tests/data/vocab."""
from __future__ import annotations

import csv
import re
import shutil
import unicodedata

import pyarrow as pa
import pytest

from corpusforge.errors import InputError, SchemaError
from corpusforge.tokenize.hf import (
    EncodeParams,
    TrainTokenizerParams,
    arrow_encoder,
    encode_arrow_batch,
    encode_batch,
    load_tokenizer,
    tokenizer_identity,
    tokens_schema,
    train_tokenizer,
)

CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@pytest.fixture(scope="module")
def vocab(test_data):
    return test_data / "vocab"


@pytest.fixture(scope="module")
def finsent_sentences(test_data) -> list[str]:
    with open(test_data / "fin-sentences" / "Train_Data.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = [name.lower() for name in rows[0]]
    text_index = header.index("content") if "content" in header else len(header) - 1
    return [row[text_index] for row in rows[1:301] if row]


def _chinese_pages(test_data) -> list[str]:
    fastwarc = pytest.importorskip("fastwarc.warc")
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    pages = []
    with open(test_data / "warc" / "resiliparse" / "warcfile.warc.gz", "rb") as handle:
        for record in fastwarc.ArchiveIterator(handle, record_types=fastwarc.WarcRecordType.response, parse_http=True):
            body = record.reader.read()
            text = extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=False)
            if len(CJK_CHAR.findall(text)) > 50:
                pages.append(text)
    return pages


def _bert_normalized_words(tokenizer, text: str) -> str:
    normalized = tokenizer.normalizer.normalize_str(text)
    return " ".join(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))


def test_wordpiece_round_trip_equals_normalized_text(vocab, finsent_sentences):
    tokenizer = load_tokenizer(vocab / "bert-base-uncased")
    unk_id = tokenizer.token_to_id("[UNK]")
    ids = encode_batch(tokenizer, finsent_sentences, add_special_tokens=True)
    lossless = [(text, row) for text, row in zip(finsent_sentences, ids) if unk_id not in row]
    # Real financial English is almost entirely in BERT's vocabulary.
    assert len(lossless) >= 0.9 * len(finsent_sentences)
    for text, row in lossless:
        assert row[0] == tokenizer.token_to_id("[CLS]") and row[-1] == tokenizer.token_to_id("[SEP]")
        assert tokenizer.decode(row, skip_special_tokens=True) == _bert_normalized_words(tokenizer, text)


def test_uncased_vocab_lowercases_and_strips_accents(vocab):
    tokenizer = load_tokenizer(vocab / "bert-base-uncased")
    assert tokenizer.encode("Café RÉSUMÉ", add_special_tokens=False).tokens == ["cafe", "resume"]


def test_chinese_vocab_keeps_case_and_splits_ideographs(vocab):
    tokenizer = load_tokenizer(vocab / "bert-base-chinese")
    encoding = tokenizer.encode("我爱北京", add_special_tokens=False)
    assert encoding.tokens == ["我", "爱", "北", "京"]
    assert tokenizer.token_to_id("[UNK]") == 100 and tokenizer.token_to_id("[CLS]") == 101


def test_tokenizer_config_decides_lowercasing(vocab, tmp_path):
    shutil.copy(vocab / "bert-base-uncased" / "vocab.txt", tmp_path / "vocab.txt")
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    tokenizer = load_tokenizer(tmp_path)
    # Cased reading of an uncased vocabulary: "Hello" is no longer found whole.
    assert tokenizer.encode("Hello", add_special_tokens=False).tokens != ["hello"]


def test_chinese_warc_pages_have_under_half_a_percent_unk(vocab, test_data):
    pages = _chinese_pages(test_data)
    assert len(pages) >= 5
    tokenizer = load_tokenizer(vocab / "bert-base-chinese")
    cjk_tokens = unk_tokens = 0
    for text, encoding in zip(pages, tokenizer.encode_batch(pages)):
        for token, (start, end) in zip(encoding.tokens, encoding.offsets):
            piece = text[start:end]
            if len(piece) == 1 and CJK_CHAR.match(piece):
                cjk_tokens += 1
                unk_tokens += token == "[UNK]"
    assert cjk_tokens > 5000
    assert unk_tokens / cjk_tokens < 0.005


def test_encode_batch_matches_single_encodes_and_truncates(vocab, finsent_sentences):
    tokenizer = load_tokenizer(vocab / "bert-base-uncased")
    texts = finsent_sentences[:20]
    expected = [tokenizer.encode(text).ids for text in texts]
    assert encode_batch(tokenizer, texts) == expected
    truncated = encode_batch(tokenizer, texts, max_length=8)
    assert all(len(row) == min(8, len(full)) for row, full in zip(truncated, expected))
    assert all(row[-1] == tokenizer.token_to_id("[SEP]") for row in truncated)
    # The shared tokenizer's own truncation setting survives the call.
    assert tokenizer.truncation is None


def test_encode_arrow_batch_types_columns_and_nulls(vocab):
    path = vocab / "bert-base-uncased"
    tokenizer = load_tokenizer(path)
    identity = tokenizer_identity(path)
    batch = pa.record_batch(
        {
            "doc_id": ["a", "b", "c"],
            "text": ["hello world", None, "good morning"],
            "split": ["train", None, "test"],
            "url": ["u1", "u2", "u3"],
        }
    )
    params = EncodeParams(tokenizer_identity=identity)
    out = encode_arrow_batch(batch, tokenizer, params)
    assert out.schema == tokens_schema(batch.schema, params)
    assert out.schema.field("input_ids").type == pa.list_(pa.int32())
    assert out.schema.field("n_tokens").type == pa.int32()
    assert out.schema.names == ["doc_id", "split", "input_ids", "n_tokens", "tokenizer"]
    rows = out.to_pylist()
    assert rows[0]["input_ids"] == tokenizer.encode("hello world").ids
    assert rows[1]["input_ids"] == [101, 102]  # a null text keeps its row: special tokens only
    assert [row["n_tokens"] for row in rows] == [len(row["input_ids"]) for row in rows]
    assert {row["tokenizer"] for row in rows} == {identity}


def test_encode_arrow_batch_names_a_missing_text_column(vocab):
    tokenizer = load_tokenizer(vocab / "bert-base-uncased")
    with pytest.raises(SchemaError, match="'body'"):
        encode_arrow_batch(pa.record_batch({"text": ["x"]}), tokenizer, EncodeParams(text_column="body"))


def test_arrow_encoder_equals_pure_path(vocab):
    path = str(vocab / "bpe" / "llama-test-tokenizer.json")
    batches = [pa.record_batch({"doc_id": ["1", "2"], "text": ["你好，世界", "hello there"]})] * 2
    encoded = list(arrow_encoder(path)(iter(batches)))
    assert [b.to_pylist() for b in encoded] == [encode_arrow_batch(b, load_tokenizer(path)).to_pylist() for b in batches]


@pytest.mark.parametrize("name", ["gpt-neo-test-tokenizer.json", "llama-test-tokenizer.json"])
def test_bpe_files_encode_chinese_and_english_without_loss(vocab, name):
    tokenizer = load_tokenizer(vocab / "bpe" / name)
    text = "北京是中国的首都。 The capital of China is Beijing."
    ids = encode_batch(tokenizer, [text], add_special_tokens=False)[0]
    assert len(ids) > 10
    decoded = tokenizer.decode(ids)
    # Both are lossless on this text up to their normalizer (NFC; llama's ▁ prefix space).
    assert unicodedata.normalize("NFC", decoded).strip() == unicodedata.normalize("NFC", text)


def test_identity_is_stable_and_follows_content(vocab, tmp_path):
    source = vocab / "bert-base-uncased"
    first = tokenizer_identity(source)
    assert first == tokenizer_identity(source)
    assert re.fullmatch(r"bert-base-uncased@[0-9a-f]{12}", first)
    moved = tmp_path / "bert-base-uncased"
    moved.mkdir()
    shutil.copy(source / "vocab.txt", moved / "vocab.txt")
    assert tokenizer_identity(moved) == first
    with open(moved / "vocab.txt", "a", encoding="utf-8") as handle:
        handle.write("newpiece\n")
    assert tokenizer_identity(moved) != first
    file_identity = tokenizer_identity(vocab / "bpe" / "gpt-neo-test-tokenizer.json")
    assert file_identity.startswith("gpt-neo-test-tokenizer@")


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(InputError, match="neither tokenizer.json nor vocab.txt"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_train_tokenizer_saves_a_loadable_tokenizer(tmp_path, finsent_sentences, kind):
    target = train_tokenizer(
        finsent_sentences, tmp_path / kind, TrainTokenizerParams(kind=kind, vocab_size=800, min_frequency=2)
    )
    assert target.name == "tokenizer.json"
    tokenizer = load_tokenizer(target.parent)
    assert 300 < tokenizer.get_vocab_size() <= 800
    ids = encode_batch(tokenizer, finsent_sentences[:5], add_special_tokens=False)
    assert all(ids)
    if kind == "bpe":
        # Byte-level BPE is lossless.
        assert [tokenizer.decode(row) for row in ids] == [unicodedata.normalize("NFC", t) for t in finsent_sentences[:5]]


def test_saved_padding_and_truncation_are_not_applied(tmp_path, vocab):
    """A tokenizer.json saved with its model's padding (MiniLM pads to 128) stores real ids only."""
    padded = load_tokenizer(vocab / "bert-base-uncased")
    padded.enable_padding(length=32, pad_id=0, pad_token="[PAD]")
    padded.enable_truncation(max_length=4)
    padded.save(str(tmp_path / "tokenizer.json"))
    reloaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert reloaded.encode("profits rose sharply this quarter").tokens == [
        "[CLS]", "profits", "rose", "sharply", "this", "quarter", "[SEP]"]
