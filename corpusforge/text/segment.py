"""Chinese word segmentation with jieba, shared by the quality filters, dedup and tokenize.

One `jieba.Tokenizer` per Python process (per Spark Python worker), built on first use: its
dictionary takes ~1 s to load, so it must not be rebuilt per row or per batch. Its pickled
prefix-dictionary cache goes to a directory of the run (never the shared system temp dir, where
concurrent users and runs would race on one `jieba.cache` file):

1. the `cache_dir` given to `configure_segmenter`, else
2. the environment variable `CORPUSFORGE_JIEBA_CACHE` (set it in `spark.executorEnv.*` so
   workers see it), else
3. `$XDG_CACHE_HOME/corpusforge/jieba` (default `~/.cache/corpusforge/jieba`).
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import jieba

CACHE_ENV = "CORPUSFORGE_JIEBA_CACHE"  # env var naming the jieba cache directory

_lock = threading.Lock()  # Spark may run several Arrow batches of one worker in threads
_tokenizer: jieba.Tokenizer | None = None
_cache_dir: str | None = None
_user_dict: str | None = None

# jieba logs "Building prefix dict..." at DEBUG/INFO on every worker start: keep logs readable.
jieba.setLogLevel(logging.WARNING)


def configure_segmenter(cache_dir: str | None = None, user_dict: str | None = None) -> None:
    """Set where jieba caches its dictionary and an optional user dictionary file.

    Takes effect for the next segmentation: an already built tokenizer is discarded, so call it
    once at worker start (or in tests), not per batch.

    >>> configure_segmenter(cache_dir=None, user_dict=None)
    >>> segment_words("我爱北京")
    ['我', '爱', '北京']
    """
    global _tokenizer, _cache_dir, _user_dict
    with _lock:
        if (cache_dir, user_dict) == (_cache_dir, _user_dict):
            return  # unchanged: keep the loaded dictionary
        _cache_dir = cache_dir
        _user_dict = user_dict
        _tokenizer = None


def _resolve_cache_dir() -> Path:
    if _cache_dir:
        return Path(_cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corpusforge" / "jieba"


def _get_tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    tokenizer = _tokenizer
    if tokenizer is not None:
        return tokenizer
    with _lock:
        if _tokenizer is None:
            cache_dir = _resolve_cache_dir()
            cache_dir.mkdir(parents=True, exist_ok=True)
            built = jieba.Tokenizer()
            built.tmp_dir = str(cache_dir)
            built.initialize()
            if _user_dict:
                built.load_userdict(_user_dict)
            _tokenizer = built
        return _tokenizer


def segment_words(text: str) -> list[str]:
    """Split `text` into jieba words, dropping whitespace-only tokens.

    Non-Chinese runs come back as jieba emits them (an English word is one token, punctuation
    marks are their own tokens).

    >>> segment_words("今天天气很好。 Hello world")
    ['今天天气', '很', '好', '。', 'Hello', 'world']
    """
    if not text:
        return []
    return [word for word in _get_tokenizer().cut(text) if not word.isspace()]


def segment_batch(texts: list[str]) -> list[list[str]]:
    """Segment a batch of texts (e.g. one Arrow batch) with the process-wide tokenizer.

    >>> segment_batch(["我爱北京", ""])
    [['我', '爱', '北京'], []]
    """
    return [segment_words(text) for text in texts]
