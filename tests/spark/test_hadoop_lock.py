"""The output lock on a Hadoop filesystem other than S3 (HDFS's code path), run through the
driver's JVM on Hadoop's own `file://` filesystem: no NameNode can run here, and rename and
create-without-overwrite are what the take-over relies on in both."""
import json

import pytest

from corpusforge.tables.lock import _Exists, _HadoopStore

pytestmark = pytest.mark.spark


def test_of_two_runs_taking_over_one_stale_lock_only_the_first_holds_it(spark, tmp_path):
    uri = f"file://{tmp_path}/out/_lock"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "_lock").write_text(json.dumps({"run_id": "ghost", "pid": 1, "host": "elsewhere"}))
    first, second = _HadoopStore(spark, uri), _HadoopStore(spark, uri)
    stale = first.read()  # both runs judged this holder stale
    assert stale.holder["run_id"] == "ghost"

    first.take_over(json.dumps({"run_id": "first"}).encode(), stale)
    with pytest.raises(_Exists):  # the slower run must not delete the lock the first just took
        second.take_over(json.dumps({"run_id": "second"}).encode(), stale)

    assert second.read().holder == {"run_id": "first"}
    assert not [p.name for p in (tmp_path / "out").iterdir() if ".stale-" in p.name]  # nothing left aside
