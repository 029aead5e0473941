"""Pinned Delta versions, read with delta-rs: no JVM and no torch.

The corpus side (shard export) and the trainer both open "version N of table T"; this module
is their one way to do it, so `jobs/export_shards.py` runs on an install without the `[train]`
extra and the trainer never reaches into the Spark side.
"""
from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa  # the doctests build their tables with it

from corpusforge.errors import InputError


def open_delta_version(table_uri: str, version: int | None, storage_options: Mapping[str, str] | None = None):
    """Open a Delta table at `version` (latest when None) with delta-rs, or fail in one line.

    >>> import tempfile, deltalake
    >>> table = tempfile.mkdtemp()
    >>> deltalake.write_deltalake(table, pa.table({"x": [1]}))
    >>> open_delta_version(table, 0).version()
    0
    >>> open_delta_version(table, 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    corpusforge.errors.InputError: Delta table ... has no version 5 (latest is 0)
    """
    import deltalake
    from deltalake.exceptions import DeltaError, TableNotFoundError

    options = dict(storage_options or {})
    try:
        latest = deltalake.DeltaTable(table_uri, storage_options=options)
    except TableNotFoundError:
        raise InputError(f"no Delta table at {table_uri!r}") from None
    if version is None:
        return latest
    if version < 0 or version > latest.version():
        raise InputError(f"Delta table {table_uri!r} has no version {version} (latest is {latest.version()})")
    try:
        return deltalake.DeltaTable(table_uri, version=version, storage_options=options)
    except DeltaError as error:
        # An old version whose log was cleaned up (log retention) cannot be rebuilt.
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"Delta table {table_uri!r}: version {version} cannot be loaded: {first_line}") from None


def table_commit_metadata(table_uri: str, version: int | None = None,
                          storage_options: Mapping[str, str] | None = None) -> dict | None:
    """The corpusforge userMetadata of the last commit up to `version` that wrote rows with it.

    `write_tokens` attaches `{"format": "corpusforge.tokens", "table", "run_id", "tokenizer", ...}`
    to the commit that writes a run's rows; this reads it from the Delta history with delta-rs
    (no JVM). None when no such commit is left in the log (e.g. a table written elsewhere, or
    a log cleaned past it); the `tokenizer` column stays the per-row truth.

    >>> import tempfile, deltalake, json
    >>> table = tempfile.mkdtemp()
    >>> note = json.dumps({"format": "corpusforge.tokens", "tokenizer": "t@1"})
    >>> deltalake.write_deltalake(table, pa.table({"x": [1]}),
    ...                           commit_properties=deltalake.CommitProperties(custom_metadata={"userMetadata": note}))
    >>> table_commit_metadata(table, 0)["tokenizer"]
    't@1'
    """
    import json

    table = open_delta_version(table_uri, version, storage_options)
    pinned = table.version()
    for commit in sorted(table.history(), key=lambda entry: entry.get("version", -1), reverse=True):
        if commit.get("version", -1) > pinned or not commit.get("userMetadata"):
            continue
        try:
            payload = json.loads(commit["userMetadata"])
        except (TypeError, ValueError):
            continue  # someone else's free-text note
        if isinstance(payload, dict) and payload.get("format") == "corpusforge.tokens":
            return payload
    return None
