"""Decompression of line-based inputs (JSONL, CSV/TSV, text) that keeps what comes before damage.

A truncated or corrupt `.jsonl.gz` must still give its complete records before the damage,
then one `ingest.unreadable` row with the byte offset where reading stopped (DESIGN.md,
"Record"). A decompressing stream that reads ahead in large blocks and raises on the block
that holds the damage loses everything decoded in that block, so this one is built on the
codecs' incremental decompressors: it feeds the compressed file in small pieces, hands every
decoded byte to the reader before it looks at the next piece, decodes the piece that fails
again up to the bad byte, and raises `DamagedInput` only when nothing decoded is left. The readers above it are unchanged: they yield their records,
and the read of the damaged tail raises.

Where reading stops is where the codec notices the damage. A truncated file is noticed at
its end. Corrupt bytes are noticed where the decoder rejects them, which for gzip and lz4
can be as late as the checksum at the end of the member or frame: lines decoded from the
damaged region before that reach the reader as what they decoded to (they usually fail as
`ingest.bad_json` / `ingest.undecodable`). Holding a whole member back until its checksum
is verified would bound memory by the member size, which for a one-member gzip is the file.

WARC/ARC readers decompress themselves (per-record gzip lets them resync past damage); they
do not come through here.
"""
from __future__ import annotations

import bz2
import io
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

# Compressed bytes fed to the decoder per step. It bounds how far the offset reported for
# corrupt data can be from the damage itself (within one piece), at one call per 16 KiB.
PIECE_BYTES = 16 << 10
# Read-ahead of the decompressed stream the readers see (they ask for lines).
BUFFER_BYTES = 1 << 20

# File-name suffix → codec name; the codecs every line-based format accepts.
SUFFIXES = {".gz": "gzip", ".zst": "zstd", ".lz4": "lz4", ".bz2": "bz2"}


class DamagedInput(OSError):
    """A compressed input cannot be decoded past `offset` (bytes of the compressed file).

    An OSError, like every other failure to read a file, so the caller's one handler for
    unreadable files takes it; `offset` and `decoded` say where reading stopped.
    """

    def __init__(self, message: str, *, offset: int, decoded: int) -> None:
        super().__init__(message)
        self.offset = offset  # compressed bytes decoded without error: where reading stopped
        self.decoded = decoded  # decompressed bytes handed to the reader before it


def compression_of(name: str) -> str | None:
    """The codec of a file by its last suffix, or None for an uncompressed file.

    >>> compression_of("news/part-0.jsonl.zst"), compression_of("a.TSV.GZ"), compression_of("a.csv")
    ('zstd', 'gzip', None)
    """
    lower = name.lower()
    for suffix, codec in SUFFIXES.items():
        if lower.endswith(suffix):
            return codec
    return None


def _zstd() -> Any:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _lz4() -> Any:
    import lz4.frame

    return lz4.frame.LZ4FrameDecompressor()


# codec → a new decoder for one member/frame/stream. Each has .decompress(data), .eof and
# .unused_data (the bytes after its member, where the next member starts).
_DECODERS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS),
    "bz2": bz2.BZ2Decompressor,
    "zstd": _zstd,
    "lz4": _lz4,
}


class DecompressingReader(io.RawIOBase):
    """A raw stream of the decompressed bytes of `source`, multi-member, damage-aware.

    Everything that decodes is returned first; then a read raises DamagedInput: for a file
    that ends inside a member (truncated) with the file's length as the offset, for bytes the
    codec rejects (corrupt) with the offset of the piece that held them.

    >>> import gzip
    >>> whole = gzip.compress(b"".join(b"line %d\\n" % i for i in range(100_000)))
    >>> reader = io.BufferedReader(DecompressingReader(io.BytesIO(whole[:50_000]), "gzip"))
    >>> lines = []
    >>> try:
    ...     for line in reader:
    ...         lines.append(line)
    ... except DamagedInput as damage:
    ...     print(len(lines) > 10_000, lines[-1], damage.offset)
    True b'line 21715\\n' 50000
    """

    def __init__(self, source: BinaryIO, codec: str) -> None:
        if codec not in _DECODERS:
            raise ValueError(f"unknown codec {codec!r}; expected one of {sorted(_DECODERS)}")
        self._source = source
        self._codec = codec
        self._decoder = _DECODERS[codec]()
        self._member_started = False  # bytes went into the current decoder
        self._pending = b""  # decoded bytes of the last piece; handed over from _pending_at on
        self._pending_at = 0
        self._leftover = b""  # compressed bytes after a member's end, not yet decoded
        self._consumed = 0  # compressed bytes decoded without error
        self._member_start = 0  # offset of the member (frame, stream) being decoded
        self._origin = source.tell() if source.seekable() else 0
        self._decoded = 0  # decompressed bytes handed over
        self._damage: DamagedInput | None = None
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pending_at == len(self._pending) and not self._done:
            self._step()
        start = self._pending_at
        if start == len(self._pending):
            if self._damage is not None:
                raise self._damage
            return 0
        size = min(len(buffer), len(self._pending) - start)
        buffer[:size] = memoryview(self._pending)[start:start + size]
        self._pending_at += size
        self._decoded += size
        return size

    def _step(self) -> None:
        """Decode one piece; on damage, keep what it decoded so far and stop."""
        piece = self._leftover or self._source.read(PIECE_BYTES)
        self._leftover = b""
        if not piece:
            self._done = True
            if self._member_started and not self._decoder.eof:
                self._fail("ends inside a compressed member (truncated)", self._consumed)
            return
        if not self._member_started and not piece.strip(b"\x00"):
            # Zero padding after the last member (tape blocks, preallocated files) is no data.
            self._consumed += len(piece)
            return
        self._member_started = True
        try:
            out = self._decoder.decompress(piece)
        except Exception as error:  # noqa: BLE001 - each codec has its own error class
            # The piece's output is lost with the error; decode it again to the bad byte.
            offset, self._pending = self._up_to_the_bad_byte(piece)
            self._pending_at = 0
            self._fail(f"{type(error).__name__}: {error}", offset)
            return
        self._pending, self._pending_at = out, 0  # only called once the last piece is handed over
        if self._decoder.eof:
            # The member ended inside this piece: the rest is the next member (or padding).
            rest = self._decoder.unused_data or b""  # lz4 says None for none
            self._consumed += len(piece) - len(rest)
            self._member_start = self._consumed
            self._leftover = rest
            self._decoder = _DECODERS[self._codec]()
            self._member_started = False
        else:
            self._consumed += len(piece)

    def _up_to_the_bad_byte(self, piece: bytes) -> tuple[int, bytes]:
        """(offset of the byte the codec rejects, what `piece` decodes to before it).

        A decoder cannot be rewound, so the member is decoded again from its start with a new
        one (the part already handed over is skipped), then the bad piece byte by byte: the
        records that end in it before the damage are kept, and the offset is exact. Costs one
        more decode of the member, once per damaged file; a stream that cannot seek gets the
        piece's start and loses the piece.
        """
        piece_start = self._consumed
        if not self._source.seekable():
            return piece_start, b""
        decoder = _DECODERS[self._codec]()
        try:
            self._source.seek(self._origin + self._member_start)
            remaining = piece_start - self._member_start
            while remaining > 0:
                data = self._source.read(min(PIECE_BYTES, remaining))
                if not data:
                    return piece_start, b""
                decoder.decompress(data)  # decoded before without error; handed over already
                remaining -= len(data)
        except Exception:  # noqa: BLE001 - the first pass decoded this; give up on the piece
            return piece_start, b""
        out = bytearray()
        for index in range(len(piece)):
            try:
                out += decoder.decompress(piece[index:index + 1])
            except Exception:  # noqa: BLE001 - each codec has its own error class
                return piece_start + index, bytes(out)
        return piece_start + len(piece), bytes(out)

    def _fail(self, why: str, offset: int) -> None:
        self._done = True
        self._damage = DamagedInput(
            f"{self._codec} stream unreadable at compressed byte {offset} "
            f"(after {self._decoded} decompressed bytes): {why}", offset=offset, decoded=self._decoded)

    def close(self) -> None:
        self._source.close()
        super().close()


def open_decompressed(stream: BinaryIO, name: str, buffer_bytes: int = BUFFER_BYTES) -> BinaryIO:
    """`stream` itself, or a buffered decompressing view of it when `name` says it is compressed.

    >>> import gzip
    >>> open_decompressed(io.BytesIO(gzip.compress(b"a\\nb\\n")), "x.txt.gz").read()
    b'a\\nb\\n'
    """
    codec = compression_of(name)
    if codec is None:
        return stream
    return io.BufferedReader(DecompressingReader(stream, codec), buffer_size=buffer_bytes)
