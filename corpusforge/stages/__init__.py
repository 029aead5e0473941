"""Spark stages: every Spark wrapper of a pure function of text/, filters/, ingest/, dedup/.

`base.py` holds the stage contract (Stage, BatchStage, with_drops, set_column, merge_quality);
each other module wraps one pure package over Arrow batches or Spark frames. The pipeline
finds them by name through `corpusforge.pipeline.registry`.
"""
