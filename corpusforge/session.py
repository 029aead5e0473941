"""A SparkSession with Delta Lake, configured from `spark-conf/<profile>/spark-defaults.conf`.

The same file serves `spark-submit` (through SPARK_CONF_DIR or --properties-file) and the
sessions this module starts in-process (tests, notebooks), so both run with the same settings.
Before a JVM is started, `check_environment` names in one line what is missing (Java, the
Delta jar); once it runs, the session is checked for Delta classes and for a Python version
on the workers that matches the driver's.

Example::

    spark = get_session("build_corpus")          # profile from SPARK_CONF_DIR, else 'local'
    spark = get_session("tests", profile="local", overrides={"spark.master": "local[2]"})
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

from corpusforge.errors import EnvironmentProblem

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "spark-conf"
MIN_JAVA = 17  # Spark 4 runs on Java 17 or newer
_DELTA_CLASS = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_ARTIFACT = "delta-spark_4.2_2.13"


def profile_dir(profile: str | None = None) -> Path:
    """The spark-conf directory in use: `profile`, else $SPARK_CONF_DIR, else 'local'."""
    if profile:
        candidate = Path(profile)
        return candidate if candidate.is_dir() else PROFILES_DIR / profile
    if os.environ.get("SPARK_CONF_DIR"):
        return Path(os.environ["SPARK_CONF_DIR"])
    return PROFILES_DIR / "local"


def launch_conf(profile: str | None = None) -> dict[str, str]:
    """The Spark settings this process runs with, known before any session: under spark-submit
    the JVM's own (the profile and every --conf, read over the gateway spark-submit opened for
    this process; no SparkContext is made), else the profile's spark-defaults.conf."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()  # connects to spark-submit's JVM; starts nothing
        return dict(SparkConf().getAll())
    conf_file = profile_dir(profile) / "spark-defaults.conf"
    return read_spark_defaults(conf_file) if conf_file.is_file() else {}


def read_spark_defaults(path: Path) -> dict[str, str]:
    """Parse a spark-defaults.conf the way spark-submit does: Java properties rules
    (`parse_properties`), values trimmed.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "spark-defaults.conf"
    >>> _ = p.write_text("# c\\nspark.master  local[2]\\nspark.ui.enabled=false\\n")
    >>> read_spark_defaults(p)
    {'spark.master': 'local[2]', 'spark.ui.enabled': 'false'}
    """
    if not path.is_file():
        raise EnvironmentProblem(f"Spark profile not found: {path}")
    return {key: value.strip() for key, value in parse_properties(path.read_text(encoding="utf-8")).items()}


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_SEPARATORS = "=:"
_WHITESPACE = " \t\f"


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java `.properties` text as `java.util.Properties.load` does (Spark reads
    spark-defaults.conf with it): `key value`, `key=value` or `key: value`, any run of spaces,
    tabs or form feeds around the separator; `#` and `!` comment lines; a line ending in an odd
    number of backslashes continues on the next (its leading whitespace dropped); `\\t \\n \\r
    \\f \\uXXXX` escapes, and a backslash before any other character stands for that character.

    >>> parse_properties("a\\tb\\nc = d\\ne:f\\n! note\\ng h \\\\\\n   i\\nk\\\\ ey=v\\\\=w\\nempty\\n")
    {'a': 'b', 'c': 'd', 'e': 'f', 'g': 'h i', 'k ey': 'v=w', 'empty': ''}
    """
    props: dict[str, str] = {}
    for line in _logical_lines(text):
        key, value = _split_key(line)
        props[_unescape(key)] = _unescape(value)
    return props


def _logical_lines(text: str):
    pending: str | None = None
    for natural in re.split(r"\r\n|\r|\n", text):  # Java's line ends, not str.splitlines()'s
        stripped = natural.lstrip(_WHITESPACE)
        if pending is None:
            if not stripped or stripped[0] in "#!":
                continue
            current = stripped
        else:
            current = pending + stripped
        trailing = len(current) - len(current.rstrip("\\"))
        if trailing % 2 == 1:  # an odd run of backslashes: the line continues
            pending = current[:-1]
            continue
        pending = None
        yield current
    if pending is not None:
        yield pending


def _split_key(line: str) -> tuple[str, str]:
    index, escaped = 0, False
    while index < len(line):
        char = line[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _SEPARATORS or char in _WHITESPACE:
            break
        index += 1
    key, rest = line[:index], line[index:]
    rest = rest.lstrip(_WHITESPACE)
    if rest[:1] in (*_SEPARATORS,) and rest:
        rest = rest[1:].lstrip(_WHITESPACE)
    return key, rest


def _unescape(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 == len(text):
            out.append(char)
            index += 1
            continue
        nxt = text[index + 1]
        if nxt == "u" and len(text) >= index + 6:
            try:
                out.append(chr(int(text[index + 2:index + 6], 16)))
                index += 6
                continue
            except ValueError:
                raise EnvironmentProblem(f"spark-defaults: malformed \\uXXXX escape in {text!r}") from None
        out.append(_ESCAPES.get(nxt, nxt))
        index += 2
    return "".join(out)


def java_major_version() -> int | None:
    """The major version of the `java` Spark would start, or None when there is none."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8" style


def configured_jars(conf: dict[str, str], base: Path | None = None) -> list[Path]:
    """The local jar files `spark.jars` names (comma-separated paths or globs), the way
    spark-submit resolves them: a relative entry is taken from `base` (default: the current
    directory), then from the repository root, where the profiles' `jars/lib/*.jar` lives.
    Entries of other schemes (hdfs:, s3a:, local:) are not files here and are left out. Under
    spark-submit the JVM's value lists each jar as a `file:/abs/path` URI.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "lib").mkdir(); _ = (d / "lib" / "a-1.jar").write_bytes(b"")
    >>> [p.name for p in configured_jars({"spark.jars": "lib/*.jar, hdfs:///x.jar"}, base=d)]
    ['a-1.jar']
    >>> [p.name for p in configured_jars({"spark.jars": f"file:{d}/lib/a-1.jar"})]
    ['a-1.jar']
    """
    found: list[Path] = []
    for entry in filter(None, (e.strip() for e in conf.get("spark.jars", "").split(","))):
        if ("://" in entry and not entry.startswith("file://")) or entry.startswith("local:"):
            continue
        path = Path(unquote(entry.removeprefix("file://").removeprefix("file:")))
        for root in ([] if path.is_absolute() else [base or Path.cwd(), REPO_ROOT]):
            if sorted(root.glob(str(path))):
                path = root / path
                break
        found += sorted(path.parent.glob(path.name)) if path.is_absolute() else []
    return found


def has_jar(conf: dict[str, str], artifact: str) -> bool:
    """True when `spark.jars` names a local `<artifact>-<version>.jar` that exists, or
    `spark.jars.packages` names `group:artifact` (which Spark resolves itself at start)."""
    if any(jar.name.startswith(artifact + "-") for jar in configured_jars(conf)):
        return True
    return any(c.strip().split(":")[1:2] == [artifact] for c in conf.get("spark.jars.packages", "").split(",") if c.strip())


def check_environment(conf: dict[str, str]) -> None:
    """Raise EnvironmentProblem, one line, when Java or the Delta jar is missing."""
    java = java_major_version()
    if java is None:
        raise EnvironmentProblem("Java not found: install OpenJDK 17+ or set JAVA_HOME")
    if java < MIN_JAVA:
        raise EnvironmentProblem(f"Java {java} found, Spark 4 needs Java {MIN_JAVA}+ (JAVA_HOME)")
    if not has_jar(conf, DELTA_ARTIFACT):
        raise EnvironmentProblem(
            f"no {DELTA_ARTIFACT} jar in spark.jars ({conf.get('spark.jars', 'not set')}): "
            "run `make jars` (it copies the jars into jars/lib)")


def _spark_is_running() -> bool:
    """True inside spark-submit (the JVM exists already) or when a session is active."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() is not None or "PYSPARK_GATEWAY_PORT" in os.environ


def get_session(app_name: str = "corpusforge", *, profile: str | None = None,
                overrides: dict[str, str] | None = None):
    """Return a SparkSession with Delta configured from the profile's spark-defaults.conf.

    Under spark-submit the JVM already holds the profile's settings and this only names the
    app; in-process, the profile is applied to the builder after `check_environment`.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if not _spark_is_running():
        conf_dir = profile_dir(profile)
        conf = read_spark_defaults(conf_dir / "spark-defaults.conf")
        conf.update(overrides or {})
        check_environment(conf)
        jars = configured_jars(conf)
        if jars:  # absolute paths: an in-process session may run from any directory
            conf["spark.jars"] = ",".join(map(str, jars))
        log4j = conf_dir / "log4j2.properties"
        if log4j.is_file():
            option = f"-Dlog4j.configurationFile={log4j}"
            conf["spark.driver.extraJavaOptions"] = (
                conf.get("spark.driver.extraJavaOptions", "") + " " + option
            ).strip()
        for key, value in conf.items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for column in PLAIN_ENCODED_COLUMNS:
        spark.conf.set(f"parquet.enable.dictionary#{column}", "false")
    _check_session(spark)
    return spark


# Columns of corpusforge's tables whose values are nearly all distinct (texts, ids, hashes,
# MinHash values): Parquet would fill a dictionary per column chunk only to fall back to plain
# values, a tenth of the JVM's time in a profile of the dedup pipeline. Set in the session's
# conf, they reach the Hadoop configuration of every Parquet and Delta write (Delta ignores
# per-write Parquet options); low-cardinality columns (source, split, run_id) keep theirs.
PLAIN_ENCODED_COLUMNS = ("doc_id", "text", "text_hash", "url", "source_id", "detail",
                         "signature.list.element", "band_hashes.list.element")


def _check_session(spark) -> None:
    jvm = spark.sparkContext._jvm
    loader = jvm.Thread.currentThread().getContextClassLoader()
    try:
        jvm.java.lang.Class.forName(_DELTA_CLASS, False, loader)
    except Exception:  # py4j wraps ClassNotFoundException in Py4JJavaError
        raise EnvironmentProblem(
            "Delta Lake classes are not on Spark's classpath: run `make jars`, then spark-submit "
            "from the repository root with SPARK_CONF_DIR=spark-conf/local (its spark.jars is "
            "jars/lib/*.jar)") from None
    driver = f"{sys.version_info.major}.{sys.version_info.minor}"
    worker = (
        spark.sparkContext.parallelize([0], 1)
        .map(lambda _: "%d.%d" % __import__("sys").version_info[:2])
        .first()
    )
    if worker != driver:
        raise EnvironmentProblem(
            f"Python {worker} on the workers, {driver} on the driver: set PYSPARK_PYTHON "
            "to the same interpreter (or ship the venv with spark.archives)"
        )
