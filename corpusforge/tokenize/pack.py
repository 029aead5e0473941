"""Pack token sequences into fixed-length training sequences, keeping the document boundaries.

The stream is the documents in the order given, each followed by one separator id (EOS or
[SEP]); it is cut every `seq_length` ids. A document cut by a boundary continues at offset 0
of the next sequence, where its id appears again as the first of `doc_ids`. Because each
document's segment is "its ids + exactly one separator", `unpack_sequences` recovers every
document exactly. The function is pure: the same ordered input gives the same sequences, so
the caller fixes the order (e.g. by `doc_id` within a split) and packing is deterministic.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpusforge.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class PackParams:
    """How documents are joined and cut into sequences."""

    seq_length: int = 2048  # ids per packed sequence
    separator_id: int  # EOS (BPE) or [SEP] (WordPiece) id appended after every document
    drop_remainder: bool = False  # drop the last, shorter sequence instead of emitting it short
    first_seq_id: int = 0  # seq_id of the first sequence (an offset per split or partition)


@dataclass(frozen=True, kw_only=True)
class PackedSequence:
    """One packed sequence: `boundaries[i]` is where `doc_ids[i]`'s segment starts in `input_ids`."""

    seq_id: int
    input_ids: list[int]
    doc_ids: list[str]
    boundaries: list[int]


def _check(params: PackParams) -> None:
    if params.seq_length < 1:
        raise ConfigError(f"pack: seq_length must be >= 1, got {params.seq_length}")


def pack_sequences(docs: Iterable[tuple[str, Sequence[int]]], params: PackParams) -> Iterator[PackedSequence]:
    """Pack `(doc_id, input_ids)` pairs, in their order, into sequences of `params.seq_length` ids.

    >>> [s.input_ids for s in pack_sequences([("a", [1, 2]), ("b", [3, 4, 5])], PackParams(seq_length=4, separator_id=0))]
    [[1, 2, 0, 3], [4, 5, 0]]
    >>> [(s.doc_ids, s.boundaries) for s in pack_sequences([("a", [1, 2]), ("b", [3, 4, 5])], PackParams(seq_length=4, separator_id=0))]
    [(['a', 'b'], [0, 3]), (['b'], [0])]
    """
    _check(params)
    seq_id = params.first_seq_id
    buffer: list[int] = []
    doc_ids: list[str] = []
    boundaries: list[int] = []
    for doc_id, input_ids in docs:
        segment = list(input_ids)
        segment.append(params.separator_id)
        position = 0
        while position < len(segment):
            # A segment that starts in this sequence (or continues into it) is listed once here.
            doc_ids.append(doc_id)
            boundaries.append(len(buffer))
            take = min(params.seq_length - len(buffer), len(segment) - position)
            buffer.extend(segment[position : position + take])
            position += take
            if len(buffer) == params.seq_length:
                yield PackedSequence(seq_id=seq_id, input_ids=buffer, doc_ids=doc_ids, boundaries=boundaries)
                seq_id += 1
                buffer, doc_ids, boundaries = [], [], []
    if buffer and not params.drop_remainder:
        yield PackedSequence(seq_id=seq_id, input_ids=buffer, doc_ids=doc_ids, boundaries=boundaries)


def unpack_sequences(sequences: Iterable[PackedSequence], *, separator_id: int) -> Iterator[tuple[str, list[int]]]:
    """Recover `(doc_id, input_ids)` from packed sequences in order (the inverse of `pack_sequences`).

    A document whose end was dropped with `drop_remainder` comes back without its tail.

    >>> packed = pack_sequences([("a", [1, 2]), ("b", [3, 4, 5])], PackParams(seq_length=4, separator_id=0))
    >>> list(unpack_sequences(packed, separator_id=0))
    [('a', [1, 2]), ('b', [3, 4, 5])]
    """
    current_id: str | None = None
    current: list[int] = []
    for sequence in sequences:
        ends = sequence.boundaries[1:] + [len(sequence.input_ids)]
        for doc_id, start, end in zip(sequence.doc_ids, sequence.boundaries, ends):
            if doc_id != current_id:
                if current_id is not None:
                    yield current_id, _strip_separator(current, separator_id)
                current_id, current = doc_id, []
            current.extend(sequence.input_ids[start:end])
    if current_id is not None:
        yield current_id, _strip_separator(current, separator_id)


def _strip_separator(segment: list[int], separator_id: int) -> list[int]:
    # Exactly one separator was appended; a document that itself ends in the separator id keeps it.
    return segment[:-1] if segment and segment[-1] == separator_id else segment


PACKED_SCHEMA = pa.schema(
    [
        pa.field("seq_id", pa.int64()),
        pa.field("input_ids", pa.list_(pa.int32())),
        pa.field("doc_ids", pa.list_(pa.string())),
        pa.field("boundaries", pa.list_(pa.int32())),
        pa.field("n_tokens", pa.int32()),
        pa.field("split", pa.string()),
    ]
)


def packed_record_batch(sequences: Sequence[PackedSequence], split: str | None = None) -> pa.RecordBatch:
    """Packed sequences as one Arrow batch with the `packed` table's columns.

    >>> seqs = list(pack_sequences([("a", [1, 2])], PackParams(seq_length=4, separator_id=0)))
    >>> packed_record_batch(seqs, "train").to_pylist()[0]["input_ids"]
    [1, 2, 0]
    """
    lengths = np.fromiter((len(s.input_ids) for s in sequences), dtype=np.int32, count=len(sequences))
    return pa.RecordBatch.from_arrays(
        [
            pa.array([s.seq_id for s in sequences], pa.int64()),
            pa.array([s.input_ids for s in sequences], pa.list_(pa.int32())),
            pa.array([s.doc_ids for s in sequences], pa.list_(pa.string())),
            pa.array([s.boundaries for s in sequences], pa.list_(pa.int32())),
            pa.array(lengths, pa.int32()),
            pa.array([split] * len(sequences), pa.string()),
        ],
        schema=PACKED_SCHEMA,
    )


def packed_from_record_batch(batch: pa.RecordBatch) -> list[PackedSequence]:
    """Read packed sequences back from a batch of the `packed` table (for unpacking or checks).

    >>> seqs = list(pack_sequences([("a", [1, 2])], PackParams(seq_length=4, separator_id=0)))
    >>> packed_from_record_batch(packed_record_batch(seqs)) == seqs
    True
    """
    columns = {name: batch.column(name).to_pylist() for name in ("seq_id", "input_ids", "doc_ids", "boundaries")}
    return [
        PackedSequence(seq_id=seq_id, input_ids=input_ids, doc_ids=doc_ids, boundaries=boundaries)
        for seq_id, input_ids, doc_ids, boundaries in zip(
            columns["seq_id"], columns["input_ids"], columns["doc_ids"], columns["boundaries"]
        )
    ]


def pack_arrow(doc_ids: pa.Array | pa.ChunkedArray, input_ids: pa.Array | pa.ChunkedArray, params: PackParams,
               split: str | None = None) -> pa.RecordBatch:
    """`pack_sequences` on Arrow columns, vectorised with numpy: the same sequences, as one batch.

    The Spark packing step runs this on each (split, bucket) group, so a group of many
    documents costs a few numpy passes instead of a Python loop over every id.

    >>> ids = pa.array([[1, 2], [3, 4, 5]], pa.list_(pa.int32()))
    >>> pack_arrow(pa.array(["a", "b"]), ids, PackParams(seq_length=4, separator_id=0)).column("input_ids").to_pylist()
    [[1, 2, 0, 3], [4, 5, 0]]
    """
    _check(params)
    if isinstance(doc_ids, pa.ChunkedArray):
        doc_ids = doc_ids.combine_chunks()
    if isinstance(input_ids, pa.ChunkedArray):
        input_ids = input_ids.combine_chunks()
    if len(doc_ids) != len(input_ids):
        raise ConfigError(f"pack: {len(doc_ids)} doc_ids for {len(input_ids)} id lists")
    length = params.seq_length
    lengths = np.diff(input_ids.offsets.to_numpy().astype(np.int64))
    if input_ids.null_count:
        lengths = np.where(input_ids.is_valid().to_numpy(zero_copy_only=False), lengths, 0)
    segment = lengths + 1  # each document's ids, then one separator
    ends = np.cumsum(segment)
    starts = ends - segment
    total = int(ends[-1]) if len(ends) else 0
    # The stream: every document's ids with the separator written after each of them.
    stream = np.full(total, params.separator_id, dtype=np.int32)
    values = input_ids.flatten().to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    within = np.arange(len(values), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    stream[np.repeat(starts, lengths) + within] = values
    count = -(-total // length)
    if params.drop_remainder and total % length:
        count = total // length
    stream = stream[: min(total, count * length)]
    # A document appears in every sequence its segment overlaps, from the one holding its
    # first id to the one holding its separator; its boundary there is where it starts (or 0).
    first = starts // length
    last = np.minimum((ends - 1) // length, count - 1)
    pieces = np.maximum(last - first + 1, 0)
    piece_doc = np.repeat(np.arange(len(segment)), pieces)
    piece_seq = np.repeat(first, pieces) + (np.arange(int(pieces.sum())) - np.repeat(np.cumsum(pieces) - pieces, pieces))
    boundaries = np.maximum(starts[piece_doc], piece_seq * length) - piece_seq * length
    piece_offsets = np.searchsorted(piece_seq, np.arange(count + 1), side="left").astype(np.int32)
    id_offsets = np.minimum(np.arange(count + 1, dtype=np.int64) * length, len(stream)).astype(np.int32)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.arange(count, dtype=np.int64) + params.first_seq_id, pa.int64()),
            pa.ListArray.from_arrays(pa.array(id_offsets), pa.array(stream, pa.int32())),
            pa.ListArray.from_arrays(pa.array(piece_offsets), doc_ids.take(pa.array(piece_doc, pa.int64())).cast(pa.string())),
            pa.ListArray.from_arrays(pa.array(piece_offsets), pa.array(boundaries.astype(np.int32), pa.int32())),
            pa.array(np.diff(id_offsets).astype(np.int32), pa.int32()),
            pa.array([split] * count, pa.string()),
        ],
        schema=PACKED_SCHEMA,
    )
