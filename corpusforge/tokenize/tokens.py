"""Tokenize kept documents, the pure part: the `[tokenize]` section, the tokenizer it names,
and the Arrow functions executors run (`tokens_batch`, `pack_group`).

The `tokens` and `packed` outputs that write them to Delta are `corpusforge.outputs.tokens`
and `corpusforge.outputs.packed` (turned on by `pipeline.outputs = ["tokens"]`).

* `tokens_batch`: one Arrow batch of documents → `tokens` rows: `doc_id`, `input_ids`
  array<int>, `n_tokens`, `tokenizer` (identity `<name>@<hash of its files>`), `split` (the
  input's own split, else a seeded hash of `doc_id` with `split_fractions`), `label`, optional
  jieba `words`. Tokenization is the Rust batch encoder (`hf.encode_arrow_batch`), one call per
  Arrow batch.
* `pack_group`: one (split, bucket) group of `tokens` rows → fixed-length sequences, sorted by
  `doc_id` and cut with `pack.pack_arrow`. A group's last sequence may be short (documents
  never span groups). `seq_id` = group << 23 | index in group, with group = 40 bits of
  BLAKE2b(run_id, split, bucket): ids are stable, and sorting a group's rows by `seq_id` gives
  the packing order back (`unpack` needs it). Two groups share a prefix with probability about
  groups² / 2^41 (1e-6 at 1,500 groups).

Example (run.toml)::

    [pipeline]
    outputs = ["tokens"]
    [tokenize]
    tokenizer = "../shared/data/vocab/bert-base-chinese"
    max_length = 512
    pack = true
    seq_length = 2048
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from corpusforge.errors import ConfigError, InputError
from corpusforge.tokenize.splits import DEFAULT_FRACTIONS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

METADATA_FORMAT = "corpusforge.tokens"  # marks the Delta userMetadata the tokens output writes
SEPARATOR_CANDIDATES = ("[SEP]", "</s>", "<|endoftext|>", "<eos>")  # tried in order when separator = ''
SEQ_INDEX_BITS = 23  # low bits of seq_id: the index in its group; 40 + 23 bits keep it a positive int64


@dataclass(frozen=True, kw_only=True)
class TokenizeConfig:
    """The `[tokenize]` section: what the `tokens` output encodes with and how it packs."""

    tokenizer: str = ""  # tokenizer directory (tokenizer.json or WordPiece vocab.txt) or a tokenizer.json file
    add_special_tokens: bool = True  # [CLS]/[SEP] or BOS as the tokenizer's post-processor adds them
    max_length: int = 0  # truncate each document to this many ids (special tokens included); 0 keeps all
    words: bool = False  # also store the jieba segmentation as a `words` array<string> column
    user_dict: str = ""  # jieba user dictionary file for `words` ('' = jieba's own only)
    # Fractions for documents whose input gave no split, in interval order (must sum to 1).
    split_fractions: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FRACTIONS))
    split_seed: int = 0  # keys the doc_id hash; a new seed reshuffles every assigned split
    pack: bool = False  # also write the `packed` table of fixed-length sequences
    seq_length: int = 2048  # ids per packed sequence
    separator: str = ""  # token after each packed document ('' = the first of [SEP], </s>, <|endoftext|>, <eos>)
    pack_group_docs: int = 100_000  # documents per packing group: bounds one executor's memory


@dataclass(frozen=True, kw_only=True)
class ResolvedTokenize:
    """The config checked and turned into what the executors need (no paths they may not see)."""

    identity: str
    tokenizer_json: str  # the whole tokenizer, so executors need no access to the driver's files
    separator_id: int | None


def resolve_config(tcfg: TokenizeConfig) -> ResolvedTokenize:
    """Check `[tokenize]` and load its tokenizer: identity, serialized tokenizer, separator id.

    >>> resolve_config(TokenizeConfig(tokenizer="../shared/data/vocab/bert-base-uncased", pack=True)).separator_id
    102
    """
    from corpusforge.tokenize.hf import load_tokenizer, tokenizer_identity
    from corpusforge.tokenize.splits import assign_split

    if not tcfg.tokenizer:
        raise ConfigError("tokenize.tokenizer: the 'tokens' output needs a tokenizer directory or tokenizer.json; none is set")
    if not Path(tcfg.tokenizer).exists():
        raise ConfigError(f"tokenize.tokenizer: {tcfg.tokenizer!r} does not exist")
    if tcfg.max_length < 0:
        raise ConfigError(f"tokenize.max_length must be >= 0 (0 = no truncation), got {tcfg.max_length}")
    if tcfg.words and tcfg.user_dict and not Path(tcfg.user_dict).is_file():
        raise ConfigError(f"tokenize.user_dict: {tcfg.user_dict!r} is not a file")
    assign_split("", tcfg.split_fractions, tcfg.split_seed)  # raises ConfigError on bad fractions
    try:
        tokenizer = load_tokenizer(tcfg.tokenizer)
        identity = tokenizer_identity(tcfg.tokenizer)
    except Exception as error:  # noqa: BLE001 - tokenizers' Rust parse errors are plain Exceptions
        raise ConfigError(f"tokenize.tokenizer: {tcfg.tokenizer!r} cannot be loaded: {error}") from None
    separator_id = None
    if tcfg.pack:
        if tcfg.seq_length < 2:
            raise ConfigError(f"tokenize.seq_length must be >= 2, got {tcfg.seq_length}")
        if tcfg.pack_group_docs < 1:
            raise ConfigError(f"tokenize.pack_group_docs must be >= 1, got {tcfg.pack_group_docs}")
        separator_id = separator_token_id(tokenizer, tcfg.separator)
    return ResolvedTokenize(identity=identity, tokenizer_json=tokenizer.to_str(), separator_id=separator_id)


def separator_token_id(tokenizer: Tokenizer, separator: str = "") -> int:
    """The id packing appends after each document: `separator`'s, else the tokenizer's SEP/EOS.

    >>> from corpusforge.tokenize.hf import load_tokenizer
    >>> separator_token_id(load_tokenizer("../shared/data/vocab/bert-base-uncased"))
    102
    """
    candidates = (separator,) if separator else SEPARATOR_CANDIDATES
    for token in candidates:
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    raise ConfigError(f"tokenize.separator: the tokenizer has no token {' or '.join(map(repr, candidates))}; "
                      "set tokenize.separator to one it has")


# -- the Arrow functions executors run ----------------------------------------------------

INPUT_SCHEMA = pa.schema([("doc_id", pa.string()), ("text", pa.string()), ("split", pa.string()), ("label", pa.string())])
_WORKER_TOKENIZERS: dict[str, Tokenizer] = {}  # identity → tokenizer, one build per Python worker


def _worker_tokenizer(identity: str, tokenizer_json: str) -> Tokenizer:
    tokenizer = _WORKER_TOKENIZERS.get(identity)
    if tokenizer is None:
        from tokenizers import Tokenizer

        tokenizer = _WORKER_TOKENIZERS[identity] = Tokenizer.from_str(tokenizer_json)
    return tokenizer


def tokens_arrow_schema(words: bool) -> pa.Schema:
    """The Arrow schema of `tokens_batch`'s output (the `tokens` table's columns but `run_id`).

    >>> tokens_arrow_schema(False).names
    ['doc_id', 'split', 'label', 'input_ids', 'n_tokens', 'tokenizer']
    """
    from corpusforge.tokenize.hf import EncodeParams, tokens_schema

    schema = tokens_schema(INPUT_SCHEMA, EncodeParams(tokenizer_identity=""))
    return schema.append(pa.field("words", pa.list_(pa.string()))) if words else schema


def tokens_batch(batch: pa.RecordBatch, tokenizer: Tokenizer, tcfg: TokenizeConfig, identity: str) -> pa.RecordBatch:
    """One Arrow batch of documents (doc_id, text, split, label) → its `tokens` rows.

    The split is assigned first (the input's own non-empty split wins), then the text is
    encoded in one Rust batch call; `words` is jieba's segmentation when configured.

    >>> from corpusforge.tokenize.hf import load_tokenizer
    >>> batch = pa.record_batch({"doc_id": ["a"], "text": ["hello world"], "split": ["test"], "label": [None]},
    ...                         schema=INPUT_SCHEMA)
    >>> row = tokens_batch(batch, load_tokenizer("../shared/data/vocab/bert-base-uncased"), TokenizeConfig(), "t@1").to_pylist()[0]
    >>> row["input_ids"], row["split"], row["tokenizer"]
    ([101, 7592, 2088, 102], 'test', 't@1')
    """
    from corpusforge.tokenize.hf import EncodeParams, encode_arrow_batch
    from corpusforge.tokenize.splits import assign_splits

    splits = assign_splits(batch.column("doc_id"), tcfg.split_fractions, tcfg.split_seed, existing=batch.column("split"))
    batch = batch.set_column(batch.schema.get_field_index("split"), "split", splits)
    params = EncodeParams(add_special_tokens=tcfg.add_special_tokens, max_length=tcfg.max_length or None,
                          tokenizer_identity=identity)
    encoded = encode_arrow_batch(batch, tokenizer, params)
    if not tcfg.words:
        return encoded
    from corpusforge.text.segment import segment_batch

    words = pa.array(segment_batch(batch.column("text").fill_null("").to_pylist()), pa.list_(pa.string()))
    return encoded.append_column("words", words)


def tokens_function(tcfg: TokenizeConfig, resolved: ResolvedTokenize, jieba_cache: str | None
                     ) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The Arrow function of the `tokens` output's tasks: one tokenizer per Python worker, then
    `tokens_batch` on every batch of (doc_id, text, split, label)."""
    identity, tokenizer_json = resolved.identity, resolved.tokenizer_json

    def tokenize_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tokenizer = _worker_tokenizer(identity, tokenizer_json)
        if tcfg.words:
            from corpusforge.text.segment import configure_segmenter

            configure_segmenter(cache_dir=jieba_cache, user_dict=tcfg.user_dict or None)
        for batch in batches:
            yield tokens_batch(batch, tokenizer, tcfg, identity)

    return tokenize_partition


def seq_ids(run_id: str, split: str, bucket: int, count: int) -> np.ndarray:
    """Ids of a packing group's `count` sequences: 40 bits of BLAKE2b(run, split, bucket), then the index.

    >>> ids = seq_ids("r1", "train", 0, 3)
    >>> (ids - ids[0]).tolist(), int(ids[0]) >> SEQ_INDEX_BITS == int(seq_ids("r1", "train", 0, 1)[0]) >> SEQ_INDEX_BITS
    ([0, 1, 2], True)
    """
    if count > 1 << SEQ_INDEX_BITS:
        raise InputError(f"pack: a group holds {count} sequences, over {1 << SEQ_INDEX_BITS}; lower tokenize.pack_group_docs")
    key = f"{run_id}\x00{split}\x00{bucket}".encode("utf-8")
    group = int.from_bytes(hashlib.blake2b(key, digest_size=5).digest(), "little")  # 40 bits
    return (np.int64(group) << np.int64(SEQ_INDEX_BITS)) + np.arange(count, dtype=np.int64)


def pack_group(table: pa.Table, *, split: str, bucket: int, run_id: str, seq_length: int, separator_id: int) -> pa.Table:
    """Pack one (split, bucket) group of `tokens` rows: sorted by doc_id, cut every seq_length ids.

    >>> rows = pa.table({"doc_id": ["b", "a"], "input_ids": pa.array([[3, 4, 5], [1, 2]], pa.list_(pa.int32()))})
    >>> pack_group(rows, split="train", bucket=0, run_id="r", seq_length=4, separator_id=0).column("doc_ids").to_pylist()
    [['a', 'b'], ['b']]
    """
    from corpusforge.tokenize.pack import PackParams, pack_arrow

    ordered = table.sort_by([("doc_id", "ascending")])
    batch = pack_arrow(ordered.column("doc_id"), ordered.column("input_ids"),
                       PackParams(seq_length=seq_length, separator_id=separator_id), split=split)
    ids = pa.array(seq_ids(run_id, split, bucket, batch.num_rows), pa.int64())
    return pa.Table.from_batches([batch.set_column(0, "seq_id", ids)])
