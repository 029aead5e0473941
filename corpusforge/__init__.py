"""corpusforge: raw crawls to clean, deduplicated, tokenized corpora on Apache Spark."""

__version__ = "0.1.0"
