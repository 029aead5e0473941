# Two entry points on a fresh machine: `make demo` and `make test`. Everything they need
# (venv, pinned packages, the Delta Lake jars in ~/.m2) is bootstrapped here, idempotently.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DELTA_JAR_VERSION := 4.4.0
DELTA_ARTIFACT := io.delta:delta-spark_4.2_2.13:$(DELTA_JAR_VERSION)
M2 := $(HOME)/.m2/repository
DELTA_JAR := $(M2)/io/delta/delta-spark_4.2_2.13/$(DELTA_JAR_VERSION)/delta-spark_4.2_2.13-$(DELTA_JAR_VERSION).jar
STAMP := $(VENV)/.stamp-install
EXTRAS ?= dev,train
OUT ?= out

# Loopback-safe Spark: never bind or advertise a non-loopback interface.
export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))
export SPARK_CONF_DIR ?= $(abspath spark-conf/local)

.PHONY: demo test venv jars clean bench

venv: $(STAMP)

# Re-installs whenever setup.cfg changes (the stamp is older than it).
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

jars: $(DELTA_JAR)

$(DELTA_JAR):
	mvn -q -B dependency:get -Dartifact=$(DELTA_ARTIFACT)
	test -f $@

demo: venv jars
	$(VENV)/bin/spark-submit jobs/build_corpus.py \
	    --input corpusforge/data/sample --output $(OUT)

test: venv jars
	$(PY) -m pytest -q tests

clean:
	rm -rf $(OUT) .pytest_cache
