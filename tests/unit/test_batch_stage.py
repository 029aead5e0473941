"""A row-local stage on Arrow batches: it marks drops on live document rows and keeps every row."""
import pyarrow as pa
import pytest

from corpusforge.errors import AccountingError
from corpusforge.stages.base import BatchStage, with_drops

SCHEMA = pa.schema([("doc_id", pa.string()), ("text", pa.string()), ("candidate", pa.bool_()),
                    ("drop_stage", pa.string()), ("drop_reason", pa.string()), ("detail", pa.string())])


class DropsEmpty(BatchStage):
    name = "test.empty"
    requires = ("text",)

    def transform(self, batch):
        return with_drops(batch, ["test.empty" if not t else None for t in batch.column("text").to_pylist()])


class LosesRows(DropsEmpty):
    name = "test.loses"

    def transform(self, batch):
        return batch.slice(1)


def _batch():
    return pa.record_batch({"doc_id": ["a", "b", "req", "bad"], "text": ["x", "", "", ""],
                            "candidate": [True, True, False, True],
                            "drop_stage": [None, None, None, "ingest"],
                            "drop_reason": [None, None, None, "ingest.bad_json"],
                            "detail": [None, None, None, None]}, schema=SCHEMA)


def test_only_live_document_rows_are_judged_and_every_row_is_kept():
    out = DropsEmpty().apply_batch(_batch(), SCHEMA).to_pylist()
    by_id = {row["doc_id"]: (row["drop_stage"], row["drop_reason"]) for row in out}
    assert by_id == {"a": (None, None), "b": ("test.empty", "test.empty"),
                     "req": (None, None),  # a WARC request record, not a document: left alone
                     "bad": ("ingest", "ingest.bad_json")}


def test_a_stage_that_loses_rows_stops_the_run():
    with pytest.raises(AccountingError, match="'test.loses' returned 1 rows for 2"):
        LosesRows().apply_batch(_batch(), SCHEMA)
