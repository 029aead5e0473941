"""The write-time column check, made on the frame as built, before anything is cast or filled."""
from __future__ import annotations

import json

import pytest

from corpusforge.errors import SchemaError
from corpusforge.schemas import SCHEMAS_DIR, check_columns


def _declared(name: str) -> list[dict]:
    return json.loads((SCHEMAS_DIR / f"{name}.json").read_text())["fields"]


@pytest.mark.parametrize("name", ["documents", "dropped", "tokens", "packed", "exact_index", "minhash_index", "stats", "ledger"])
def test_every_declared_column_passes_and_each_one_missing_is_named(name):
    fields = _declared(name)
    columns = [f["name"] for f in fields]
    check_columns(columns, name)
    for f in fields:
        with pytest.raises(SchemaError, match=f"column '{f['name']}' .* missing from the frame"):
            check_columns([c for c in columns if c != f["name"]], name)


def test_fill_covers_only_nullable_columns_the_writer_names():
    columns = [f["name"] for f in _declared("documents")]
    without_lang = [c for c in columns if c not in ("lang", "lang_score")]
    check_columns(without_lang, "documents", fill=("lang", "lang_score"))
    with pytest.raises(SchemaError, match="'lang_score'"):
        check_columns(without_lang, "documents", fill=("lang",))
    with pytest.raises(SchemaError, match="'doc_id' is not nullable and cannot be filled"):
        check_columns(columns[1:], "documents", fill=("doc_id",))


def test_undeclared_and_renamed_columns_are_named():
    columns = [f["name"] for f in _declared("dropped")]
    with pytest.raises(SchemaError, match="column 'minhash_signature' is not declared in schemas/dropped.json"):
        check_columns([*columns, "minhash_signature"], "dropped")
    renamed = ["reason" if c == "drop_reason" else c for c in columns]
    with pytest.raises(SchemaError, match="column 'drop_reason' \\(string\\) missing"):
        check_columns(renamed, "dropped")
