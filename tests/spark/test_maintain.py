"""VACUUM never removes the files of a pinned version; after the pin is released, they go."""
import pytest

from corpusforge.tables.deltars import read_delta
from corpusforge.tables.maintain import MaintainParams, data_files, maintain_output, maintain_table
from corpusforge.tables.pins import list_pins, pin, release

pytestmark = pytest.mark.spark


def _append(spark, path, start, n):
    rows = [(f"{i:032x}", f"text {i}") for i in range(start, start + n)]
    spark.createDataFrame(rows, "doc_id string, text string").coalesce(1).write.format("delta").mode("append").save(path)


def test_pinned_version_survives_compaction_and_vacuum(spark, tmp_path):
    table = str(tmp_path / "out" / "documents")
    for batch in range(3):  # versions 0, 1, 2: three small files
        _append(spark, table, batch * 10, 10)
    pin(table, 2, "finetune-a")
    _append(spark, table, 30, 10)  # version 3
    assert data_files(tmp_path / "out" / "documents") == 4

    zero = MaintainParams(retention_hours=0, zorder=True)
    result = maintain_table(spark, table, zero)
    assert result.files_live == 1  # compacted (Z-ordered by doc_id) into one file
    assert result.held_by_pin == "finetune-a" and result.retention_hours > 0
    assert result.files_after == 5  # the four small files stay: version 2 needs three of them
    pinned = spark.read.format("delta").option("versionAsOf", 2).load(table)
    assert pinned.count() == 30 and sorted(r.doc_id for r in pinned.collect())[0] == f"{0:032x}"
    assert read_delta(table, version=2).num_rows == 30  # also without a JVM
    assert read_delta(table).num_rows == 40

    assert release(table, "finetune-a") and list_pins(table) == []
    result = maintain_table(spark, table, MaintainParams(retention_hours=0))
    assert result.held_by_pin is None and result.retention_hours == 0
    assert result.files_after == 1  # the pinned version's files are gone
    assert read_delta(table).num_rows == 40
    # The default check (retention below 7 days refused) is back on after the call.
    assert spark.conf.get("spark.databricks.delta.retentionDurationCheck.enabled") in ("true", None)


def test_maintain_output_takes_the_lock_and_checks_tables(spark, tmp_path):
    from corpusforge.errors import ConfigError

    out = tmp_path / "out"
    _append(spark, str(out / "stats"), 0, 3)
    _append(spark, str(out / "stats"), 3, 3)
    (result,) = maintain_output(spark, str(out), MaintainParams())
    assert (result.table, result.files_before, result.files_live, result.files_after) == ("stats", 2, 1, 3)
    assert not (out / "_lock").exists()
    with pytest.raises(ConfigError, match="no Delta table 'tokens'"):
        maintain_output(spark, str(out), MaintainParams(tables=("tokens",)))
