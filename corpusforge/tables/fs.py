"""Output URIs (`file://`, `s3a://`, `hdfs://`): the scheme check before any work, and the few
filesystem operations the driver does on an output besides Delta's own reads and writes.

A remote URI goes through Hadoop's FileSystem API in the driver's JVM: the same client,
credentials and `spark.hadoop.fs.*` settings as Spark's reads and writes, so a store that
Spark can write to is one these helpers can list, read and delete on. A local path or
`file://` URI is handled with plain Python (what Hadoop's local filesystem would do, minus
its `.crc` side files). No helper here treats a remote URI as a local path.

Example::

    check_output_uri("s3a://bucket/corpus", conf)        # exit 2 before any work when wrong
    write_text(spark, "s3a://bucket/corpus/_runs/r1.json", "{}")
    list_dirs(spark, "s3a://bucket/corpus")              # ['_runs', 'documents', ...]
"""
from __future__ import annotations

import shutil
from pathlib import Path

from corpusforge.errors import ConfigError, EnvironmentProblem

# Output schemes a run can write to, with the Maven coordinate that brings the filesystem into
# Spark's classpath (None: Spark's bundled Hadoop client has it).
OUTPUT_SCHEMES: dict[str, str | None] = {
    "file": None,
    "hdfs": None,
    "s3a": "org.apache.hadoop:hadoop-aws:3.5.0",
}
# Schemes users type that mean something else in Hadoop 3: a hint instead of a bare refusal.
_SCHEME_HINTS = {"s3": "use s3a:// (Hadoop's S3 connector)", "s3n": "use s3a://"}


def scheme_of(uri: str) -> str:
    """The URI's scheme; a plain path is `file`.

    >>> scheme_of("s3a://bucket/out"), scheme_of("/tmp/out"), scheme_of("file:///tmp/out")
    ('s3a', 'file', 'file')
    """
    return uri.split("://", 1)[0].lower() if "://" in uri else "file"


def is_local(uri: str) -> bool:
    """True for a plain path or a `file://` URI.

    >>> is_local("out/corpus"), is_local("hdfs://nn/corpus")
    (True, False)
    """
    return scheme_of(uri) == "file"


def local_path(uri: str) -> Path | None:
    """The local filesystem path of a `file://` URI or plain path, else None.

    >>> local_path("file:///tmp/out"), local_path("s3a://b/out")
    (PosixPath('/tmp/out'), None)
    """
    if not is_local(uri):
        return None
    return Path(uri[len("file://"):] if uri.startswith("file://") else uri)


def join(root: str, *parts: str) -> str:
    """`root` with `parts` appended by `/` (the separator of every scheme here).

    >>> join("s3a://b/out/", "_runs", "r1.json")
    's3a://b/out/_runs/r1.json'
    """
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def check_output_uri(uri: str, conf: dict[str, str]) -> None:
    """Before any work: the output's scheme is one a run can write to, and the jars its
    filesystem needs are configured (`conf`: the Spark profile's settings) and fetched.

    >>> check_output_uri("gs://b/out", {})
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: --output gs://b/out: unknown scheme 'gs'; expected one of file, hdfs, s3a
    """
    scheme = scheme_of(uri)
    if scheme not in OUTPUT_SCHEMES:
        hint = _SCHEME_HINTS.get(scheme) or f"expected one of {', '.join(sorted(OUTPUT_SCHEMES))}"
        raise ConfigError(f"--output {uri}: unknown scheme {scheme!r}; {hint}")
    if scheme != "file" and not uri.split("://", 1)[1].split("/", 1)[0]:
        raise ConfigError(f"--output {uri}: no bucket or host after {scheme}://")
    coordinate = OUTPUT_SCHEMES[scheme]
    if coordinate is None:
        return
    from corpusforge.session import has_jar

    artifact = coordinate.split(":")[1]
    if not has_jar(conf, artifact):
        raise EnvironmentProblem(
            f"--output {uri}: the {scheme}:// filesystem needs the {artifact} jar in spark.jars "
            f"(found: {conf.get('spark.jars', 'not set')}); run `make jars` (see spark-conf/local/spark-defaults.conf)")
    if scheme == "s3a" and conf.get("spark.hadoop.fs.s3a.create.conditional.enabled", "true") == "false":
        raise ConfigError(f"--output {uri}: spark.hadoop.fs.s3a.create.conditional.enabled is false; "
                          "the output lock needs S3 conditional puts")


def _active_spark(spark):
    if spark is not None:
        return spark
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        raise EnvironmentProblem("a remote output needs a running Spark session")
    return active


def hadoop_fs(spark, uri: str):
    """(Hadoop FileSystem, Path) of `uri`, configured as Spark's own reads and writes are."""
    spark = _active_spark(spark)
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def exists(spark, uri: str) -> bool:
    if is_local(uri):
        return local_path(uri).exists()
    fs, path = hadoop_fs(spark, uri)
    return bool(fs.exists(path))


def delete(spark, uri: str) -> None:
    """Remove `uri` and everything under it; nothing happens when it is not there."""
    if is_local(uri):
        target = local_path(uri)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        return
    fs, path = hadoop_fs(spark, uri)
    fs.delete(path, True)


def list_dirs(spark, uri: str) -> list[str]:
    """Names of the directories directly under `uri` (empty when it does not exist)."""
    if is_local(uri):
        root = local_path(uri)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    fs, path = hadoop_fs(spark, uri)
    if not fs.exists(path):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory())


def write_text(spark, uri: str, text: str) -> None:
    """Write (replace) a small UTF-8 file; its parent directories are created."""
    if is_local(uri):
        target = local_path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return
    fs, path = hadoop_fs(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark, uri: str) -> str | None:
    """The content of a small UTF-8 file, or None when it does not exist."""
    if is_local(uri):
        try:
            return local_path(uri).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
    fs, path = hadoop_fs(spark, uri)
    if not fs.exists(path):
        return None
    return _read_all(spark, fs, path).decode("utf-8")


def _read_all(spark, fs, path) -> bytes:
    jvm = spark.sparkContext._jvm if spark is not None else _active_spark(None).sparkContext._jvm
    stream = fs.open(path)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()



_PUBLISH_CHUNK = 4 << 20  # bytes per write through py4j


def publish(spark, local_file: str | Path, uri: str) -> None:
    """Move a finished local file (a WARC file a task wrote) to `uri` on the output's
    filesystem, replacing what is there: a rename on local disk, an upload elsewhere (the
    local copy is removed once the upload is complete, so a retry after a crash finds one or
    the other)."""
    source = Path(local_file)
    if is_local(uri):
        target = local_path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
        return
    # Streamed through the filesystem's own output stream, not copyFromLocalFile: s3a's copy
    # goes through the SDK's transfer manager, whose async client the Spark profiles leave out.
    fs, path = hadoop_fs(spark, uri)
    stream = fs.create(path, True)
    try:
        with open(source, "rb") as handle:
            while chunk := handle.read(_PUBLISH_CHUNK):
                stream.write(bytearray(chunk))
    except BaseException:
        try:
            stream.abort()  # s3a: the object is never created; a retry publishes it whole
        except Exception:
            pass
        raise
    stream.close()  # on S3 the upload completes here
    source.unlink()


def file_status(spark, uri: str) -> tuple[int, int]:
    """(size in bytes, modification time in ms since the epoch) of the file at `uri`."""
    if is_local(uri):
        stat = local_path(uri).stat()
        return stat.st_size, int(stat.st_mtime * 1000)
    fs, path = hadoop_fs(spark, uri)
    status = fs.getFileStatus(path)
    return int(status.getLen()), int(status.getModificationTime())
