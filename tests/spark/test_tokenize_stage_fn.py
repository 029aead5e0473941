"""The tokenizer's Arrow function through Spark's mapInArrow equals the pure path."""
from __future__ import annotations

import pyarrow as pa
import pytest

from corpusforge.tokenize.hf import EncodeParams, arrow_encoder, encode_arrow_batch, load_tokenizer, tokenizer_identity, tokens_schema

TEXTS = [
    "我爱北京天安门。",
    "The quick brown fox jumps over the lazy dog.",
    "混合 text 与中文, numbers 2024 and 标点！",
    "",
    None,
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.",
]


@pytest.mark.spark
@pytest.mark.parametrize("tokenizer_file", ["bert-base-chinese", "bpe/llama-test-tokenizer.json"])
def test_map_in_arrow_equals_pure_path(spark, test_data, tokenizer_file):
    from pyspark.sql.pandas.types import from_arrow_schema

    path = str(test_data / "vocab" / tokenizer_file)
    rows = [(f"{i:032x}", text, "train" if i % 2 else "test", f"label{i % 3}") for i, text in enumerate(TEXTS * 5)]
    frame = spark.createDataFrame(rows, "doc_id string, text string, split string, label string").repartition(3)
    params = EncodeParams(tokenizer_identity=tokenizer_identity(path), max_length=64)
    input_schema = pa.schema([("doc_id", pa.string()), ("text", pa.string()), ("split", pa.string()), ("label", pa.string())])
    output = frame.mapInArrow(arrow_encoder(path, params), from_arrow_schema(tokens_schema(input_schema, params)))
    assert [(f.name, f.dataType.simpleString()) for f in output.schema.fields] == [
        ("doc_id", "string"), ("split", "string"), ("label", "string"),
        ("input_ids", "array<int>"), ("n_tokens", "int"), ("tokenizer", "string"),
    ]
    through_spark = sorted((row.asDict() for row in output.collect()), key=lambda row: row["doc_id"])

    batch = pa.RecordBatch.from_pylist(
        [dict(zip(("doc_id", "text", "split", "label"), row)) for row in rows], schema=input_schema
    )
    pure = sorted(encode_arrow_batch(batch, load_tokenizer(path), params).to_pylist(), key=lambda row: row["doc_id"])
    assert through_spark == pure
    assert all(row["n_tokens"] == len(row["input_ids"]) for row in through_spark)
