"""File names ↔ URIs: one encoding rule for every place a path becomes a URI.

An input file is known by two names. Its URI (`InputFile.uri`, the ledger's `input_uri`,
the `source_uri` column) is a real RFC 3986 URI: every byte outside the unreserved set and
`/` is percent-encoded, so a name with a space, a `#`, a `%` or non-ASCII letters survives
every URI parser it meets (pyarrow's, Hadoop's). Its source key (what doc_ids hash) is the
*decoded* name, so a local run and an object-store run over the same files give the same ids.
"""
from __future__ import annotations

import os
from urllib.parse import quote, unquote, unquote_to_bytes

# RFC 3986 unreserved characters stay as they are, and '/' separates path segments; all
# else is encoded (as UTF-8 bytes), which is what `Path.as_uri()` does for local paths.
_SAFE = "/"


def encode_path(path: str) -> str:
    """The percent-encoded form of a decoded path (UTF-8 bytes; '/' kept).

    >>> encode_path("in/bad lines ü.jsonl")
    'in/bad%20lines%20%C3%BC.jsonl'
    >>> encode_path("50%#1.txt")
    '50%25%231.txt'
    """
    return quote(path, safe=_SAFE)


def local_uri(path: str) -> str:
    """The `file://` URI of a local path (made absolute; symlinks are the caller's choice).

    >>> local_uri("/data/bad lines ü.jsonl")
    'file:///data/bad%20lines%20%C3%BC.jsonl'
    """
    absolute = os.path.abspath(path)
    # os.fsencode keeps a name that is not valid UTF-8 as its own bytes.
    return "file://" + quote(os.fsencode(absolute), safe=_SAFE)


def remote_uri(prefix: str, path: str) -> str:
    """`prefix` (e.g. 's3a://bucket/', as given) joined to a decoded object path, encoded.

    >>> remote_uri("s3a://", "bucket/raw/día 1.jsonl")
    's3a://bucket/raw/d%C3%ADa%201.jsonl'
    """
    return prefix + encode_path(path)


def local_path(uri_or_path: str) -> str:
    """The local path of a `file://` URI (decoded), or a plain path returned as it is.

    A plain path is never decoded: '%20' in a path given on the command line is a name.

    >>> local_path("file:///data/bad%20lines%20%C3%BC.jsonl")
    '/data/bad lines ü.jsonl'
    >>> local_path("/data/100%20.txt")
    '/data/100%20.txt'
    """
    if uri_or_path.startswith("file://"):
        # Decoded to bytes first, so a local name that is not UTF-8 round-trips exactly.
        return os.fsdecode(unquote_to_bytes(uri_or_path[len("file://"):]))
    return uri_or_path


def decoded(uri_path: str) -> str:
    """The decoded text of a URI path (for names, source keys and messages).

    >>> decoded("bucket/raw/d%C3%ADa%201.jsonl")
    'bucket/raw/día 1.jsonl'
    """
    return unquote(uri_path)

