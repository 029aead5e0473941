"""Table schemas, read from `schemas/<table>.json` (Spark's StructType JSON plus a version).

`check_columns` is the write-time check, made on the frame as the writer built it, before
anything is cast or filled: every column the table declares must be there (a nullable one
only an optional stage provides may be named in `fill`), and nothing else, so a stage that
forgets or renames a column fails before a write. `conform` then casts. Later issues add
columns to the JSON files; writes use Delta schema evolution (mergeSchema), so tables earlier
runs wrote stay readable, and each write records `schema_version` in the table.
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

    return StructType.fromJson({"type": "struct", "fields": _spec(name)["fields"]})


def schema_version(name: str) -> int:
    """The version number stored in `schemas/<name>.json`; a write records it in the table
    (`tables.delta.SCHEMA_VERSION_PROPERTY`) and refuses a table of a newer version.

    >>> schema_version("documents") >= 1
    True
    """
    return int(_spec(name)["version"])


@functools.lru_cache(maxsize=None)
def _spec(name: str) -> dict:
    path = SCHEMAS_DIR / f"{name}.json"
    if not path.is_file():
        raise SchemaError(f"no schema file for table {name!r}: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def check_columns(columns: list[str], name: str, fill: tuple[str, ...] | list[str] = ()) -> None:
    """Before anything is cast or filled: the frame's columns against table `name`'s schema.

    A declared column the frame lacks is a SchemaError naming it (a missing or renamed
    column), unless it is nullable and the writer lists it in `fill` (a column only an optional
    stage provides, written as null). A column the schema does not declare is a SchemaError
    too: nothing the frame carries vanishes silently.

    >>> check_columns(["run_id", "stage", "metric", "value"], "stats")
    >>> check_columns(["run_id", "stage", "metrics", "value"], "stats")
    Traceback (most recent call last):
    ...
    corpusforge.errors.SchemaError: table 'stats': column 'metric' (string) missing from the frame; it has ['metrics', 'run_id', 'stage', 'value']
    >>> check_columns(["run_id", "stage", "metric", "value", "unit"], "stats")
    Traceback (most recent call last):
    ...
    corpusforge.errors.SchemaError: table 'stats': column 'unit' is not declared in schemas/stats.json; declare it there or leave it out of the frame
    """
    fields = _spec(name)["fields"]
    required = {f["name"] for f in fields if not f["nullable"]}
    bad_fill = [c for c in fill if c in required]
    if bad_fill:
        raise SchemaError(f"table {name!r}: column {bad_fill[0]!r} is not nullable and cannot be filled with null")
    present = set(columns)
    for spec in fields:
        if spec["name"] in present:
            continue
        if spec["nullable"] and spec["name"] in fill:
            continue
        raise SchemaError(f"table {name!r}: column {spec['name']!r} ({_type_name(spec['type'])}) missing from "
                          f"the frame; it has {sorted(present)}")
    declared = {spec["name"] for spec in fields}
    extra = [c for c in columns if c not in declared]
    if extra:
        raise SchemaError(f"table {name!r}: column {extra[0]!r} is not declared in schemas/{name}.json; "
                          "declare it there or leave it out of the frame")


def _type_name(spec_type) -> str:
    return spec_type if isinstance(spec_type, str) else spec_type.get("type", "struct")


def conform(df, name: str, fill: tuple[str, ...] | list[str] = ()):
    """`df` checked (`check_columns`), then its columns ordered and cast to table `name`'s
    schema, the `fill` columns it lacks added as null."""
    from pyspark.sql import functions as F

    check_columns(df.columns, name, fill)
    columns = []
    for field in table_schema(name).fields:
        if field.name in df.columns:
            columns.append(F.col(field.name).cast(field.dataType).alias(field.name))
        else:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
    return df.select(columns)
