"""Hugging Face `tokenizers` over Arrow batches: load, identify, encode, train.

The Rust batch encoder does the work; Python only moves whole Arrow buffers in and out, so
there is no per-document Python call into the tokenizer. The same `encode_arrow_batch` is the
pure path unit-tested here and the function the Spark stage runs through `mapInArrow`.

Tokenizers load only from local files (no hub): a directory holding `tokenizer.json`, a
directory holding a WordPiece `vocab.txt` (built into a BERT-style tokenizer, because
transformers 5's `BertTokenizer(vocab_file=...)` silently ignores the file), or a
`tokenizer.json` file itself.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from corpusforge.errors import ConfigError, InputError, SchemaError

# Files whose bytes define a tokenizer's behaviour; they (and only they) enter its identity.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
IDENTITY_HASH_CHARS = 12  # 48 bits of BLAKE2b: collisions are irrelevant at a few tokenizers per run
_ASCII_UPPER = re.compile("[A-Z]")
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True, kw_only=True)
class EncodeParams:
    """How `encode_arrow_batch` turns a text column into token ids."""

    text_column: str = "text"  # the column holding the (normalized) document text
    add_special_tokens: bool = True  # [CLS]/[SEP] or <s> as the tokenizer's post-processor says
    max_length: int | None = None  # truncate to this many ids (special tokens included); None keeps all
    keep_columns: tuple[str, ...] = ("doc_id", "split", "label")  # copied through when present
    tokenizer_identity: str | None = None  # written as the `tokenizer` column when set


def _tokenizer_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [path / name for name in TOKENIZER_FILES if (path / name).is_file()]


def _vocab_is_uncased(vocab: Iterable[str]) -> bool:
    # An uncased vocabulary was built from lower-cased text, so it holds no upper-case word
    # Latin pieces; a cased one (bert-base-chinese keeps "I", "K", ...) does. Only A-Z counts:
    # uncased vocabularies still hold symbols such as "ℝ" that str.isupper() calls upper case.
    return not any(
        _ASCII_UPPER.search(token) for token in vocab if not (token.startswith("[") and token.endswith("]"))
    )


def _read_vocab(vocab_path: Path) -> dict[str, int]:
    lines = vocab_path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line is not a token
    # The id of a WordPiece token is its line number, as in the original BERT vocab files.
    return {token.rstrip("\r"): index for index, token in enumerate(lines)}


def _wordpiece_tokenizer(directory: Path) -> Tokenizer:
    vocab = _read_vocab(directory / "vocab.txt")
    missing = [token for token in ("[UNK]", "[CLS]", "[SEP]") if token not in vocab]
    if missing:
        raise InputError(f"{directory / 'vocab.txt'}: not a BERT WordPiece vocabulary, it lacks {missing}")
    lowercase: bool | None = None
    config_path = directory / "tokenizer_config.json"
    if config_path.is_file():
        lowercase = json.loads(config_path.read_text(encoding="utf-8")).get("do_lower_case")
    if lowercase is None:
        lowercase = _vocab_is_uncased(vocab)
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    # BertNormalizer: control chars removed, spaces around CJK ideographs (so each becomes a
    # word and maps to its own id), and NFD + accent stripping + lower-casing when uncased.
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    # No "cleanup": its English heuristics glue punctuation to words ("units ," → "units,"),
    # so decode would no longer return the normalized words the ids came from.
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer.add_special_tokens([token for token in BERT_SPECIAL_TOKENS if token in vocab])
    return tokenizer


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """Load a tokenizer from a local directory or `tokenizer.json` file (never from a hub).

    A directory's `tokenizer.json` wins over its `vocab.txt`. A bare WordPiece `vocab.txt`
    becomes a BERT tokenizer; it lower-cases when `tokenizer_config.json` says
    `do_lower_case`, or, without that file, when the vocabulary holds no upper-case pieces.

    >>> tok = load_tokenizer("tests/data/vocab/bert-base-uncased")
    >>> tok.encode("Hello world").tokens
    ['[CLS]', 'hello', 'world', '[SEP]']
    """
    source = Path(path)
    if source.is_file():
        return _unpadded(Tokenizer.from_file(str(source)))
    if not source.is_dir():
        raise InputError(f"tokenizer path {str(source)!r} does not exist")
    if (source / "tokenizer.json").is_file():
        return _unpadded(Tokenizer.from_file(str(source / "tokenizer.json")))
    if (source / "vocab.txt").is_file():
        return _wordpiece_tokenizer(source)
    raise InputError(f"tokenizer directory {str(source)!r} has neither tokenizer.json nor vocab.txt")


def _unpadded(tokenizer: Tokenizer) -> Tokenizer:
    # A saved tokenizer.json may carry the padding and truncation its model trained with
    # (MiniLM's pads every text to 128 ids): stored token ids are the text's, no more and no
    # fewer; a max_length is applied per call, and the reader pads.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def tokenizer_identity(path: str | os.PathLike[str]) -> str:
    """Name and short content hash of a tokenizer's files: `<name>@<12 hex>`, stable across runs.

    The hash covers each defining file's name and bytes, so moving the directory keeps the
    identity and editing the vocabulary changes it.

    >>> tokenizer_identity("tests/data/vocab/bert-base-chinese")[:18]
    'bert-base-chinese@'
    """
    source = Path(path)
    files = _tokenizer_files(source)
    if not files:
        raise InputError(f"tokenizer path {str(source)!r} has no tokenizer files ({', '.join(TOKENIZER_FILES)})")
    digest = hashlib.blake2b(digest_size=16)
    for file in files:
        digest.update(file.name.encode("utf-8") + b"\x00")
        digest.update(hashlib.blake2b(file.read_bytes(), digest_size=16).digest())
    name = source.stem if source.is_file() else source.resolve().name
    return f"{name}@{digest.hexdigest()[:IDENTITY_HASH_CHARS]}"


class _Truncated:
    """Truncation set on the shared tokenizer for one call, the previous setting restored after."""

    def __init__(self, tokenizer: Tokenizer, max_length: int | None) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length
        self.previous: dict | None = None

    def __enter__(self) -> Tokenizer:
        self.previous = self.tokenizer.truncation
        if self.max_length is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(max_length=self.max_length)
        return self.tokenizer

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(**self.previous)


def _encode_flat(
    tokenizer: Tokenizer, texts: list[str], add_special_tokens: bool, max_length: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Encode with the Rust batch encoder; return (offsets int32[n+1], flat ids int32)."""
    if max_length is not None and max_length < 1:
        raise ConfigError(f"max_length must be a positive number of tokens, got {max_length}")
    with _Truncated(tokenizer, max_length) as tok:
        # encode_batch_fast skips the character offsets, which nothing downstream needs.
        encodings = tok.encode_batch_fast(texts, add_special_tokens=add_special_tokens)
    id_lists = [encoding.ids for encoding in encodings]
    lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    offsets = np.zeros(len(id_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise InputError("one Arrow batch holds more than 2^31 tokens; lower the batch size")
    flat = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int32, count=int(offsets[-1]))
    return offsets.astype(np.int32), flat


def encode_batch(
    tokenizer: Tokenizer, texts: list[str], *, add_special_tokens: bool = True, max_length: int | None = None
) -> list[list[int]]:
    """Token ids of each text, from one call of the Rust batch encoder.

    >>> tok = load_tokenizer("tests/data/vocab/bert-base-uncased")
    >>> encode_batch(tok, ["hello world", "hello"], add_special_tokens=False)
    [[7592, 2088], [7592]]
    """
    offsets, flat = _encode_flat(tokenizer, texts, add_special_tokens, max_length)
    ids = flat.tolist()
    return [ids[start:stop] for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def tokens_schema(input_schema: pa.Schema, params: EncodeParams) -> pa.Schema:
    """The schema `encode_arrow_batch` returns for a batch of `input_schema` (kept columns first).

    >>> tokens_schema(pa.schema([("doc_id", pa.string()), ("text", pa.string())]), EncodeParams()).names
    ['doc_id', 'input_ids', 'n_tokens']
    """
    fields = [input_schema.field(name) for name in params.keep_columns if name in input_schema.names]
    fields += [pa.field("input_ids", pa.list_(pa.int32())), pa.field("n_tokens", pa.int32())]
    if params.tokenizer_identity is not None:
        fields.append(pa.field("tokenizer", pa.string()))
    return pa.schema(fields)


def encode_arrow_batch(batch: pa.RecordBatch, tokenizer: Tokenizer, params: EncodeParams = EncodeParams()) -> pa.RecordBatch:
    """Tokenize a record batch's text column: kept columns + `input_ids` list<int32> + `n_tokens` int32.

    A null text encodes as the empty string (special tokens only), so no row is lost.

    >>> tok = load_tokenizer("tests/data/vocab/bert-base-uncased")
    >>> batch = pa.record_batch({"doc_id": ["a"], "text": ["hello world"]})
    >>> encode_arrow_batch(batch, tok).to_pylist()
    [{'doc_id': 'a', 'input_ids': [101, 7592, 2088, 102], 'n_tokens': 4}]
    """
    if params.text_column not in batch.schema.names:
        raise SchemaError(f"tokenize: input has no column {params.text_column!r}; it has {batch.schema.names}")
    texts = batch.column(params.text_column).fill_null("").to_pylist()
    offsets, flat = _encode_flat(tokenizer, texts, params.add_special_tokens, params.max_length)
    input_ids = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, pa.int32()))
    columns = [batch.column(name) for name in params.keep_columns if name in batch.schema.names]
    columns += [input_ids, pa.array(np.diff(offsets), pa.int32())]
    if params.tokenizer_identity is not None:
        columns.append(pa.array([params.tokenizer_identity] * batch.num_rows, pa.string()))
    return pa.RecordBatch.from_arrays(columns, schema=tokens_schema(batch.schema, params))


@functools.lru_cache(maxsize=4)
def _cached_tokenizer(path: str) -> Tokenizer:
    # One load per Python worker process: Spark reuses workers across tasks.
    return load_tokenizer(path)


def arrow_encoder(
    tokenizer_path: str, params: EncodeParams = EncodeParams()
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A `mapInArrow` function: it loads the tokenizer once per worker and encodes each batch.

    Only the path travels to executors (a `Tokenizer` does not pickle portably); the output
    schema for `mapInArrow` is `tokens_schema(df's Arrow schema, params)`.

    >>> encode = arrow_encoder("tests/data/vocab/bert-base-uncased")
    >>> next(encode(iter([pa.record_batch({"text": ["hi"]})]))).column("n_tokens").to_pylist()
    [3]
    """

    def encode_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tokenizer = _cached_tokenizer(tokenizer_path)
        for batch in batches:
            yield encode_arrow_batch(batch, tokenizer, params)

    return encode_partition


@dataclass(frozen=True, kw_only=True)
class TrainTokenizerParams:
    """How `train_tokenizer` builds a vocabulary from a sample of the corpus."""

    kind: str = "bpe"  # "bpe" (byte-level, lossless) or "wordpiece" (BERT-style, lower-cased)
    vocab_size: int = 32000  # target size, special tokens included
    min_frequency: int = 2  # a merge or piece must occur this often in the sample


def train_tokenizer(
    texts: Iterable[str], out_dir: str | os.PathLike[str], params: TrainTokenizerParams = TrainTokenizerParams()
) -> Path:
    """Train a BPE or WordPiece tokenizer on `texts`; save it as `out_dir/tokenizer.json`.

    >>> import tempfile
    >>> out = train_tokenizer(["low lower lowest"] * 50, tempfile.mkdtemp(),
    ...                       TrainTokenizerParams(kind="wordpiece", vocab_size=60, min_frequency=1))
    >>> load_tokenizer(out.parent).encode("lowest").tokens[0]
    '[CLS]'
    """
    if params.kind == "bpe":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        special = ["<|endoftext|>", "<|padding|>"]
        trainer = trainers.BpeTrainer(
            vocab_size=params.vocab_size,
            min_frequency=params.min_frequency,
            special_tokens=special,
            show_progress=False,
            # Every byte is in the base alphabet, so no text is ever out of vocabulary.
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    elif params.kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
        special = list(BERT_SPECIAL_TOKENS)
        trainer = trainers.WordPieceTrainer(
            vocab_size=params.vocab_size, min_frequency=params.min_frequency, special_tokens=special,
            show_progress=False,
        )
    else:
        raise ConfigError(f"train_tokenizer: kind must be 'bpe' or 'wordpiece', got {params.kind!r}")
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if params.kind == "wordpiece":
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))],
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "tokenizer.json"
    tokenizer.save(str(target))
    return target
