"""Expand `--input` URIs, globs, directories and `--manifest` files into the list of files a
run reads, each with its format, source key, size and modification time.

Runs on the driver before any work: a missing path or an empty glob is an InputError that
names it. Files of no known format are skipped and counted, not read.
"""
from __future__ import annotations

import fnmatch
import glob as globlib
import gzip
import os
import posixpath
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from corpusforge.errors import InputError
from corpusforge.ingest import detect_format
from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.remote import open_filesystem
from corpusforge.ingest.uris import decoded, local_path, local_uri, remote_uri

_GLOB_CHARS = "*?["


@dataclass(frozen=True, kw_only=True)
class InputFile:
    uri: str  # file:///abs/path or scheme://bucket/key, percent-encoded (ingest/uris.py)
    source: str  # dataset name
    source_key: str  # dataset name / decoded path relative to the input root (never absolute)
    format: str
    size: int
    mtime: datetime  # UTC
    split: str | None = None


@dataclass(kw_only=True)
class InputPlan:
    files: list[InputFile] = field(default_factory=list)
    skipped_unknown_format: list[str] = field(default_factory=list)
    # pyarrow S3 options (ingest/remote.py) for s3a:// inputs, from Spark's s3a keys; the
    # executors' readers get them too. Never printed: they may hold keys.
    s3: dict = field(default_factory=dict, repr=False)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def plan_inputs(inputs: list[str], manifest: str | None, cfg: IngestOptions,
                s3: dict | None = None) -> InputPlan:
    """Resolve every input to files; raise InputError for a missing path or empty glob.

    `s3`: how to reach s3a:// inputs (`remote.s3_options` of the Spark settings); without
    it, pyarrow's defaults (AWS's credential chain and endpoints)."""
    if not inputs and not manifest:
        raise InputError("no input: give --input PATH (repeatable) or --manifest FILE")
    plan = InputPlan(s3=dict(s3 or {}))
    seen: set[str] = set()
    for spec in inputs:
        for uri, source, key, info in _expand(spec, cfg, plan.s3):
            _add(plan, seen, uri, source, key, info, cfg)
    if manifest:
        for uri, source, key, info in _expand_manifest(manifest, cfg, plan.s3):
            _add(plan, seen, uri, source, key, info, cfg)
    plan.files.sort(key=lambda f: f.uri)
    return plan


def _add(plan: InputPlan, seen: set[str], uri: str, source: str, key: str,
         info: tuple[int, datetime], cfg: IngestOptions) -> None:
    if uri in seen:
        return
    seen.add(uri)
    name = posixpath.basename(decoded(uri))  # formats and split patterns match the real name
    fmt = cfg.format if cfg.format != "auto" else detect_format(name)
    if fmt is None:
        plan.skipped_unknown_format.append(uri)
        return
    size, mtime = info
    plan.files.append(InputFile(uri=uri, source=source, source_key=key, format=fmt, size=size,
                                mtime=mtime, split=_split_for(name, cfg)))


def _split_for(name: str, cfg: IngestOptions) -> str | None:
    for pattern, split in cfg.splits.items():
        if fnmatch.fnmatch(name, pattern):
            return split
    return None


def _is_local(spec: str) -> bool:
    return spec.startswith("file://") or "://" not in spec


def _local(spec: str) -> str:
    return local_path(spec)  # a file:// URI is decoded; a plain path is a name as it is


def _glob_root(path: str) -> str:
    """The non-glob prefix of a path: the input root that source keys are relative to."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if any(c in part for c in _GLOB_CHARS):
            return "/".join(parts[:i]) or "."
    return path


def _expand(spec: str, cfg: IngestOptions, s3: dict):
    if _is_local(spec):
        yield from _expand_local(_local(spec), spec, cfg)
    else:
        yield from _expand_remote(spec, cfg, s3)


def _expand_local(path: str, spec: str, cfg: IngestOptions):
    root = _glob_root(path)
    if root != path:
        matches = sorted(p for p in globlib.glob(path, recursive=True) if os.path.isfile(p))
        if not matches:
            raise InputError(f"input glob matches no file: {spec}")
    elif os.path.isdir(path):
        matches = sorted(str(p) for p in Path(path).rglob("*") if p.is_file())
        if not matches:
            raise InputError(f"input directory is empty: {spec}")
    elif os.path.isfile(path):
        matches = [path]
    else:
        raise InputError(f"input not found: {spec}")
    root_abs = os.path.abspath(root)
    single_file = os.path.isfile(root_abs)
    source = cfg.source or os.path.basename(root_abs.rstrip("/")) or "input"
    for match in matches:
        given = os.path.abspath(match)
        rel = "" if single_file else os.path.relpath(given, root_abs).replace(os.sep, "/")
        # Source keys follow the path as given; the URI is canonical (symlinks resolved), so
        # one file reached by two paths is one input to the ledger.
        canonical = os.path.realpath(given)
        stat = os.stat(canonical)
        mtime = datetime.fromtimestamp(stat.st_mtime_ns // 1_000_000 / 1000, tz=timezone.utc)
        key = f"{source}/{rel}" if rel else source
        yield local_uri(canonical), source, key, (stat.st_size, mtime)


def _expand_remote(spec: str, cfg: IngestOptions, s3: dict):
    from pyarrow import fs as pafs

    # `path` and every listed entry.path are decoded names.
    try:
        filesystem, path = open_filesystem(spec, s3)
        info = filesystem.get_file_info(_glob_root(path))
    except OSError as err:  # no such bucket, refused credentials, an unreachable endpoint
        raise InputError(f"input {spec}: {str(err).splitlines()[0]}") from None
    prefix = _remote_prefix(spec, path)
    root = _glob_root(path)
    if info.type == pafs.FileType.NotFound:
        raise InputError(f"input not found: {spec}")
    if info.type == pafs.FileType.File:
        entries = [info]
    else:
        entries = [e for e in filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
                   if e.type == pafs.FileType.File]
    if root != path:
        entries = [e for e in entries if fnmatch.fnmatch(e.path, path)]
    if not entries:
        raise InputError(f"input matches no file: {spec}")
    source = cfg.source or posixpath.basename(root.rstrip("/")) or "input"
    for entry in sorted(entries, key=lambda e: e.path):
        rel = posixpath.relpath(entry.path, root) if entry.path != root else ""
        mtime = entry.mtime or datetime.fromtimestamp(0, tz=timezone.utc)
        yield remote_uri(prefix, entry.path), source, (f"{source}/{rel}" if rel else source), (entry.size, mtime)


def _remote_prefix(spec: str, path: str) -> str:
    """What goes before an object path in its URI: `s3a://` where the filesystem path starts
    with the bucket (S3, GCS), `hdfs://host:port` where it is the path after the authority.

    >>> _remote_prefix("s3a://bucket/raw/d%C3%ADa/", "bucket/raw/día")
    's3a://'
    >>> _remote_prefix("hdfs://nn:8020/raw/a%20b", "/raw/a b")
    'hdfs://nn:8020'
    """
    split = urlsplit(spec)
    if split.netloc and not path.startswith("/") and path.split("/", 1)[0] == decoded(split.netloc):
        return f"{split.scheme}://"
    return f"{split.scheme}://{split.netloc}"


def _expand_manifest(manifest: str, cfg: IngestOptions, s3: dict):
    """A list of paths, one per line, gz or plain; relative lines are relative to the manifest."""
    if not os.path.isfile(_local(manifest)):
        raise InputError(f"manifest not found: {manifest}")
    path = _local(manifest)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    if not lines:
        raise InputError(f"manifest lists no input: {manifest}")
    base = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path).removesuffix(".gz")
    source = cfg.source or name.split(".")[0]
    for line in lines:
        if not _is_local(line):
            for uri, _source, _key, info in _expand_remote(line, cfg, s3):
                yield uri, source, f"{source}/{decoded(line.split('://', 1)[1])}", info
            continue
        target = _local(line)
        absolute = target if os.path.isabs(target) else os.path.join(base, target)
        if not os.path.isfile(absolute):
            raise InputError(f"manifest {manifest}: input not found: {line}")
        stat = os.stat(absolute)
        mtime = datetime.fromtimestamp(stat.st_mtime_ns // 1_000_000 / 1000, tz=timezone.utc)
        rel = target.lstrip("/") if not os.path.isabs(target) else os.path.relpath(absolute, base)
        yield local_uri(os.path.realpath(absolute)), source, f"{source}/{rel}", (stat.st_size, mtime)
