"""Table schemas, read from `schemas/<table>.json` (Spark's StructType JSON plus a version).

`assert_schema` is the write-time check: every column the table declares must be there with
its type, and nothing else, so a stage that forgets or renames a column fails before a write.
Later issues add columns to the JSON files; writes use Delta schema evolution (mergeSchema),
so tables earlier runs wrote stay readable.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from corpusforge.errors import SchemaError

# A source checkout reads the top-level schemas/ (the one source); an installed wheel carries
# a copy of it in corpusforge/schema_files/ (setup.py's build step).
_SOURCE_DIR = Path(__file__).resolve().parent.parent / "schemas"
_PACKAGED_DIR = Path(__file__).resolve().parent / "schema_files"
SCHEMAS_DIR = _SOURCE_DIR if (_SOURCE_DIR / "documents.json").is_file() else _PACKAGED_DIR


@functools.lru_cache(maxsize=None)
def table_schema(name: str):
    """The StructType of table `name`.

    >>> table_schema("stats").fieldNames()
    ['run_id', 'stage', 'metric', 'value']
    """
    from pyspark.sql.types import StructType

    path = SCHEMAS_DIR / f"{name}.json"
    if not path.is_file():
        raise SchemaError(f"no schema file for table {name!r}: {path}")
    spec = json.loads(path.read_text(encoding="utf-8"))
    return StructType.fromJson({"type": "struct", "fields": spec["fields"]})


def schema_version(name: str) -> int:
    """The version number stored in `schemas/<name>.json`."""
    return int(json.loads((SCHEMAS_DIR / f"{name}.json").read_text())["version"])


def assert_schema(df, name: str) -> None:
    """Raise SchemaError naming the first column of `df` that does not fit table `name`."""
    expected = {f.name: f.dataType for f in table_schema(name).fields}
    actual = {f.name: f.dataType for f in df.schema.fields}
    for column, dtype in expected.items():
        if column not in actual:
            raise SchemaError(f"table {name!r}: column {column!r} ({dtype.simpleString()}) missing")
        if actual[column] != dtype:
            raise SchemaError(
                f"table {name!r}: column {column!r} is {actual[column].simpleString()}, "
                f"expected {dtype.simpleString()}"
            )
    extra = sorted(set(actual) - set(expected))
    if extra:
        raise SchemaError(f"table {name!r}: unexpected column {extra[0]!r}; add it to the schema file")


def conform(df, name: str):
    """Select and cast `df`'s columns to table `name`'s schema (missing nullable ones as null)."""
    from pyspark.sql import functions as F

    columns = []
    for field in table_schema(name).fields:
        if field.name in df.columns:
            columns.append(F.col(field.name).cast(field.dataType).alias(field.name))
        elif field.nullable:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        else:
            raise SchemaError(f"table {name!r}: required column {field.name!r} missing")
    return df.select(columns)
