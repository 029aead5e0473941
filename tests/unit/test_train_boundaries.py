"""Import boundaries of the trainer side (issue 11): `corpusforge.train` never loads pyspark,
and shard export (`jobs/export_shards.py`) runs on an install without torch (no `[train]` extra).

Each check runs in a fresh interpreter, so modules an earlier test imported cannot hide a leak.
"""
from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import deltalake
import pyarrow as pa
import pytest

import corpusforge.train

REPO = Path(__file__).resolve().parents[2]
TRAIN_MODULES = sorted(f"corpusforge.train.{info.name}" for info in pkgutil.iter_modules(corpusforge.train.__path__))


def _python(code: str, *, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=env or {**os.environ, "PYTHONPATH": str(REPO)})


def test_the_trainer_package_has_the_modules_this_test_walks():
    assert {"corpusforge.train.config", "corpusforge.train.data", "corpusforge.train.driver"} <= set(TRAIN_MODULES)


@pytest.mark.parametrize("module", TRAIN_MODULES)
def test_no_train_module_loads_pyspark_or_the_corpus_config(module):
    probe = (f"import sys, importlib; importlib.import_module({module!r}); "
             "print(sorted(m for m in sys.modules if m == 'pyspark' or m.startswith('pyspark.') "
             "or m in ('corpusforge.config', 'corpusforge.pipeline')))")
    done = _python(probe)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"{module} loads {done.stdout.strip()}"


def _torch_blocker(root: Path) -> Path:
    """A `torch` package that records the attempt and refuses to import, shadowing the real one."""
    stub = root / "no_torch" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "import os\n"
        "with open(os.environ['TORCH_IMPORT_MARKER'], 'a') as marker:\n"
        "    marker.write('torch import attempted\\n')\n"
        "raise ImportError('torch is not installed (test stub)')\n", encoding="utf-8")
    return stub.parent


def test_export_shards_runs_without_torch(tmp_path):
    table = tmp_path / "tokens"
    deltalake.write_deltalake(str(table), pa.table({
        "doc_id": [f"{i:032x}" for i in range(6)],
        "input_ids": pa.array([[101, 7 + i, 102] for i in range(6)], pa.list_(pa.int32())),
        "tokenizer": ["test@1"] * 6,
        "split": ["train", "train", "test", "train", "train", "test"],
    }))
    marker = tmp_path / "torch_imports.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_torch_blocker(tmp_path)), str(REPO)]),
           "TORCH_IMPORT_MARKER": str(marker)}
    # the blocker works: importing torch in this environment fails and leaves the marker
    assert _python("import torch", env=env).returncode != 0 and marker.is_file()
    marker.unlink()

    for args, out in ((["--split", "train"], tmp_path / "arrow"), (["--megatron"], tmp_path / "megatron")):
        done = subprocess.run([sys.executable, str(REPO / "jobs" / "export_shards.py"), "--table", str(table),
                               "--version", "0", "--out", str(out), *args],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert not marker.exists(), f"export_shards {args} tried to import torch"
    index = json.loads((tmp_path / "arrow" / "index.json").read_text())
    assert index["rows"] == 4 and index["tokens"] == 12 and index["tokenizer"] == "test@1"
    assert all((tmp_path / "arrow" / entry["path"]).is_file() for entry in index["files"])
    assert (tmp_path / "megatron" / "corpus.bin").stat().st_size == 6 * 3 * 2  # 18 ids as uint16
