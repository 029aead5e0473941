"""Run by spark-submit in tests/cluster: report where the executors' Python and corpusforge
come from (one JSON line, `EXECUTORS ...`), then run build_corpus with the given arguments."""
import json
import sys

from corpusforge.pipeline.cli import main
from corpusforge.session import get_session


def _where(_):
    import os
    import sys

    import corpusforge

    return {"executable": sys.executable, "corpusforge": corpusforge.__file__, "pid": os.getpid()}


if __name__ == "__main__":
    spark = get_session("cluster-test")
    seen = spark.sparkContext.parallelize(range(4), 4).map(_where).collect()
    print("EXECUTORS " + json.dumps(seen), flush=True)
    sys.exit(main(sys.argv[1:]))
