"""spark-defaults.conf is read with Java-properties rules, as spark-submit reads it."""
from __future__ import annotations

import pytest

from corpusforge.errors import EnvironmentProblem
from corpusforge.session import PROFILES_DIR, parse_properties, read_spark_defaults


def test_separators_whitespace_and_equals_and_colon():
    text = ("spark.master local[2]\n"
            "spark.driver.memory\t\t4g\n"                # tabs: `partition(" ")` kept them in the key
            "spark.ui.enabled=false\n"                   # key=value: `partition(" ")` made one key
            "spark.sql.shuffle.partitions : 8\n"
            "   spark.app.name    =   corpus build  \n")  # leading blanks; value keeps inner spaces
    assert read_spark_defaults_text(text) == {
        "spark.master": "local[2]", "spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "8", "spark.app.name": "corpus build",
    }


def test_comments_blank_lines_and_continuations():
    text = ("# a comment\n"
            "! also a comment\n"
            "\n"
            "spark.jars.packages io.delta:delta-spark_4.2_2.13:4.4.0,\\\n"
            "                    org.apache.hadoop:hadoop-aws:3.5.0\n"
            "spark.driver.extraJavaOptions -Da=1 # not a comment: only whole lines are\n"
            "path C:\\\\tmp\n")
    assert read_spark_defaults_text(text) == {
        "spark.jars.packages": "io.delta:delta-spark_4.2_2.13:4.4.0,org.apache.hadoop:hadoop-aws:3.5.0",
        "spark.driver.extraJavaOptions": "-Da=1 # not a comment: only whole lines are",
        "path": "C:\\tmp",
    }


def test_escapes_in_keys_and_values():
    assert parse_properties("my\\ key\\=x = a\\tb\\u00e9\n") == {"my key=x": "a\tbé"}
    assert parse_properties("even\\\\\nnext value\n") == {"even\\": "", "next": "value"}  # \\\\ ends the line
    with pytest.raises(EnvironmentProblem, match="uXXXX"):
        parse_properties("k \\uZZZZ\n")


def test_key_with_no_value_and_last_line_continued():
    assert parse_properties("alone\nk v\\") == {"alone": "", "k": "v"}


def test_every_shipped_profile_parses_to_spark_keys():
    for conf in sorted(PROFILES_DIR.glob("*/spark-defaults.conf")):
        parsed = read_spark_defaults(conf)
        assert parsed and all(key.startswith("spark.") and " " not in key for key in parsed), conf


def read_spark_defaults_text(text: str) -> dict[str, str]:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "spark-defaults.conf"
    path.write_text(text, encoding="utf-8")
    return read_spark_defaults(path)
