"""Pins without Spark: one call registers a version (delta-rs reads its commit time)."""
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from corpusforge.tables.pins import PinError, list_pins, pin, release, vacuum_retention_hours


@pytest.fixture
def table(tmp_path):
    from deltalake import write_deltalake

    path = tmp_path / "tokens"
    for i in range(3):
        write_deltalake(str(path), pa.table({"doc_id": [f"d{i}"]}), mode="append")
    return str(path)


def test_pin_release_and_retention(table):
    held = pin(table, 1, "trainer-1")
    assert held.version == 1 and (table + "/_pins/trainer-1.json")
    assert [p.name for p in list_pins(table)] == ["trainer-1"]
    pin(table, 2, "trainer-1")  # the same name moves the pin
    assert [p.version for p in list_pins(table)] == [2]
    later = held.commit_time + timedelta(hours=30)
    hours, by = vacuum_retention_hours(24, list_pins(table), later)
    assert by.name == "trainer-1" and 31 <= hours <= 31.1
    assert vacuum_retention_hours(48, list_pins(table), later) == (48, None)
    assert release(table, "trainer-1") and not release(table, "trainer-1")
    assert list_pins(table) == []


def test_bad_pins_name_the_problem(table, tmp_path):
    with pytest.raises(PinError, match="versions 0..2, not 5"):
        pin(table, 5, "t")
    with pytest.raises(PinError, match="name '../x'"):
        pin(table, 1, "../x")
    with pytest.raises(PinError, match="not a Delta table"):
        pin(str(tmp_path / "nope"), 0, "t")
    with pytest.raises(PinError, match="only local tables"):
        pin("s3a://bucket/tokens", 0, "t")
    assert datetime.now(timezone.utc) - pin(table, 0, "t").commit_time < timedelta(minutes=5)


def test_command_line_and_trainer_pin(table, tmp_path, capsys):
    from corpusforge.tables.pins import main, pin_for_run

    assert main(["pin", table, "1", "nightly"]) == 0
    assert "nightly\tv1" in capsys.readouterr().out
    held = pin_for_run(table, 2, tmp_path / "runs" / "try 2")
    assert held.name == "finetune-try_2" and held.version == 2
    assert pin_for_run("s3a://bucket/tokens", 0, tmp_path) is None  # warned, not raised
    assert main(["release", table, "nightly"]) == 0 and main(["release", table, "nightly"]) == 1
    assert main(["pin", table, "9", "x"]) == 2
