"""The pure packages and the trainer import no pyspark, not even indirectly (DESIGN.md, "The code").

Each module is imported in a fresh interpreter, so nothing another test imported can hide an
import; one subprocess runs every module of a group, each in its own child, to stay fast.
"""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import corpusforge

REPO = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("text", "filters", "ingest", "dedup", "tokenize")
PURE_MODULES = ("config", "errors", "reasons", "typed_config")
FORBIDDEN = ("pyspark", "py4j")

# Imports each module given on the command line in a child interpreter of its own and prints
# {module: [forbidden modules it loaded] or "error: ..."} as JSON.
_PROBE = """
import json, subprocess, sys
forbidden = {forbidden!r}
check = "import importlib, json, sys; importlib.import_module(sys.argv[1]); " \\
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (forbidden,)
result = {{}}
for module in sys.argv[1:]:
    proc = subprocess.run([sys.executable, "-c", check, module], capture_output=True, text=True)
    result[module] = json.loads(proc.stdout.splitlines()[-1]) if proc.returncode == 0 else "error: " + proc.stderr[-500:]
print(json.dumps(result))
"""


def _submodules(package: str) -> list[str]:
    root = _package_dir(package)
    names = [package]
    for info in pkgutil.walk_packages([str(root)], prefix=f"{package}."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def _package_dir(package: str) -> Path:
    return Path(corpusforge.__file__).parent.joinpath(*package.split(".")[1:])


def _loaded(modules: list[str]) -> dict[str, object]:
    probe = _PROBE.format(forbidden=FORBIDDEN)
    proc = subprocess.run([sys.executable, "-c", probe, *modules], cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(proc.stdout)


def test_pure_packages_import_no_spark():
    modules = [m for p in PURE_PACKAGES for m in _submodules(f"corpusforge.{p}")]
    modules += [f"corpusforge.{m}" for m in PURE_MODULES]
    assert len(modules) > 30  # every submodule, not just the packages
    loaded = _loaded(modules)
    assert {m: v for m, v in loaded.items() if v} == {}


def test_trainer_imports_no_spark():
    loaded = _loaded(_submodules("corpusforge.train"))
    problems = {m: v for m, v in loaded.items() if v}
    if problems and all(isinstance(v, str) and "torch" in v for v in problems.values()):
        pytest.skip(f"torch is not installed: {sorted(problems)}")
    assert problems == {}


def test_the_probe_sees_spark_where_it_is():
    # The check can fail: a Spark module is reported as loading pyspark.
    loaded = _loaded(["corpusforge.stages.lsh"])
    assert "pyspark" in loaded["corpusforge.stages.lsh"]
