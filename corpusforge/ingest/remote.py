"""Remote files read with pyarrow (the driver's planning and the executors' readers) under the
settings Spark's own s3a client uses, so an `s3a://` input that Spark could read is one the
readers can: the same endpoint, keys, region and addressing.

The settings are the profile's `spark.hadoop.fs.s3a.*` keys (or the same keys without the
`spark.hadoop.` prefix, as Hadoop configurations name them). Keys a store does not need are
left out, and pyarrow then does what the AWS SDK does: its default credential chain and the
bucket's region.

Example::

    s3 = s3_options(read_spark_defaults(profile_dir() / "spark-defaults.conf"))
    filesystem, path = open_filesystem("s3a://bucket/raw/d%C3%ADa.jsonl", s3)   # path 'bucket/raw/día.jsonl'
"""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

S3A_KEY_PREFIX = "spark.hadoop.fs.s3a."
REMOTE_S3_SCHEMES = ("s3a", "s3")


def s3_options(conf: Mapping[str, str]) -> dict[str, object]:
    """pyarrow `S3FileSystem` keyword arguments from Spark's s3a settings.

    >>> s3_options({"spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000",
    ...             "spark.hadoop.fs.s3a.path.style.access": "true",
    ...             "spark.hadoop.fs.s3a.access.key": "AK", "spark.hadoop.fs.s3a.secret.key": "SK",
    ...             "spark.hadoop.fs.s3a.endpoint.region": "us-east-1"})
    {'endpoint_override': '127.0.0.1:9000', 'scheme': 'http', 'access_key': 'AK', 'secret_key': 'SK', 'region': 'us-east-1'}
    >>> s3_options({"fs.s3a.endpoint": "minio.internal:9000", "fs.s3a.connection.ssl.enabled": "false"})
    {'endpoint_override': 'minio.internal:9000', 'scheme': 'http', 'force_virtual_addressing': True}
    >>> s3_options({})
    {}
    """
    def get(key: str) -> str | None:
        value = conf.get(S3A_KEY_PREFIX + key, conf.get("fs.s3a." + key))
        return value.strip() if value is not None and value.strip() else None

    options: dict[str, object] = {}
    endpoint = get("endpoint")
    if endpoint:
        split = urlsplit(endpoint if "://" in endpoint else "//" + endpoint)
        ssl = (get("connection.ssl.enabled") or "true").lower() != "false"
        options["endpoint_override"] = split.netloc
        options["scheme"] = split.scheme or ("https" if ssl else "http")
    if get("access.key"):
        options["access_key"] = get("access.key")
        options["secret_key"] = get("secret.key") or ""
        if get("session.token"):
            options["session_token"] = get("session.token")
    region = get("endpoint.region") or get("region")
    if region:
        options["region"] = region
    # Hadoop addresses buckets virtually (bucket.host) unless path style is on; pyarrow does so
    # only without an endpoint override, so say it where an endpoint is set.
    if endpoint and (get("path.style.access") or "false").lower() != "true":
        options["force_virtual_addressing"] = True
    return options


def pyarrow_uri(uri: str) -> str:
    """Hadoop's `s3a://` is pyarrow's `s3://`.

    >>> pyarrow_uri("s3a://b/k"), pyarrow_uri("hdfs://nn/k")
    ('s3://b/k', 'hdfs://nn/k')
    """
    return "s3://" + uri[len("s3a://"):] if uri.startswith("s3a://") else uri


def open_filesystem(uri: str, s3: Mapping[str, object] | None = None):
    """(pyarrow filesystem, decoded path) of a percent-encoded URI; an s3a:// or s3:// URI gets
    an S3 filesystem with the `s3` options (`s3_options`) when they are given.

    >>> open_filesystem("s3a://bucket/raw/d%C3%ADa%201.jsonl", {"region": "us-east-1"})[1]
    'bucket/raw/día 1.jsonl'
    """
    from pyarrow import fs as pafs

    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in REMOTE_S3_SCHEMES and s3:
        return pafs.S3FileSystem(**s3), unquote(urlsplit(uri).netloc + urlsplit(uri).path)
    return pafs.FileSystem.from_uri(pyarrow_uri(uri))
