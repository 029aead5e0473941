"""A seeded corpus with planted near-duplicates, for benchmarking MinHash dedup.

Text comes from the real WARC samples in ../shared/data/warc (HTML → text with resiliparse),
English (sentences without CJK letters) and Chinese, split into sentences; unrelated base
documents are random draws of those sentences (lengths log-uniform in 200–20,000 characters). Planted on top:

- ~15 % near-duplicates in clusters of 2–10: word (Chinese: character) insert/delete/substitute
  at a rate uniform in 1–10 %, added headers/footers, reordered paragraphs, punctuation and
  whitespace changes;
- ~5 % exact copies of a base document;
- ≥ 5 % hard negatives: unrelated documents that share one long boilerplate block (three
  sentences, at most a fifth of the document);
- one skewed cluster of many copies of one boilerplate page (thousands at full size).

The truth of a planted pair is its exact Jaccard on the dedup key's 5-gram shingles, computed
here, not assumed from the edit.

    python benchmarks/dedup_corpus.py --docs 5000 --seed 1 --out /tmp/corpus.parquet
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

from corpusforge.dedup.minhash import jaccard, shingles
from corpusforge.text.dedup_key import doc_id

WARC_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc"
NEAR_FRACTION = 0.15  # documents that are edited members of a near-duplicate cluster
EXACT_FRACTION = 0.05  # documents that are verbatim copies of a base document
HARD_NEGATIVE_FRACTION = 0.06  # unrelated documents sharing a long boilerplate block
HARD_NEGATIVE_LENGTH_RATIO = 4  # a hard negative's own text is at least 4× its shared block
CHINESE_FRACTION = 0.2  # share of base documents written in Chinese
SKEW_COPIES_PER_DOC = 1 / 25  # size of the skewed cluster relative to the corpus (2,000 at 50k)
MIN_CHARS, MAX_CHARS = 200, 20_000  # document length range (log-uniform)
MAX_CHARS_ZH = 1_500  # the samples hold only ~15k characters of Chinese: longer draws would overlap
EDIT_RATE = (0.01, 0.10)  # token edit rate of a near-duplicate, uniform in this range
_SENTENCE_EN = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_ZH = re.compile(r"(?<=[。！？])")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_CJK_LETTER = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class Doc:
    """One generated document and where it came from."""

    doc_id: str
    text: str
    lang: str
    kind: str  # base | near | exact | hard_negative | skew
    origin: str | None  # doc_id of the document it was made from (None for base documents)


def load_sentences(root: Path = WARC_ROOT) -> tuple[list[str], list[str]]:
    """English and Chinese sentences of every HTML response in the WARC samples.

    >>> en, zh = load_sentences()  # doctest: +SKIP
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    english: set[str] = set()
    chinese: set[str] = set()
    for path in sorted(glob.glob(str(root / "**" / "*.warc*"), recursive=True)):
        try:
            with open(path, "rb") as stream:
                for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
                    body = record.reader.read()
                    text = extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=True)
                    for line in text.splitlines():
                        line = line.strip()
                        if len(_HAN.findall(line)) > len(line) / 2:
                            chinese.update(s for s in _SENTENCE_ZH.split(line) if len(s) >= 8)
                        else:
                            # a sentence with CJK letters in it is neither: in the dedup key each
                            # CJK letter is one token, so one such sentence would dominate short
                            # documents and make unrelated ones near-duplicates
                            english.update(s for s in _SENTENCE_EN.split(line)
                                           if len(s.split()) >= 6 and not _CJK_LETTER.search(s))
        except OSError:
            continue  # a deliberately damaged sample (e.g. example-trunc.warc): skip the rest of it
    return sorted(english), sorted(chinese)


def _base_text(rng: random.Random, pool: list[str], chinese: bool, min_chars: int = MIN_CHARS) -> str:
    longest = MAX_CHARS_ZH if chinese else MAX_CHARS
    target = math.exp(rng.uniform(math.log(min(min_chars, longest)), math.log(longest)))
    sentences: list[str] = []
    length = 0
    while length < target:
        sentence = rng.choice(pool)
        sentences.append(sentence)
        length += len(sentence)
    per_paragraph = rng.randint(2, 6)
    joiner = "" if chinese else " "
    return "\n\n".join(
        joiner.join(sentences[start : start + per_paragraph]) for start in range(0, len(sentences), per_paragraph)
    )


def _edit_tokens(text: str, rng: random.Random, rate: float, chinese: bool, pool: list[str]) -> str:
    if chinese:
        filler = "".join(pool[rng.randrange(len(pool))] for _ in range(3))
        out = []
        for char in text:
            roll = rng.random()
            if roll < rate / 3:
                continue
            if roll < 2 * rate / 3 and char.strip():
                out.append(rng.choice(filler))
                continue
            out.append(char)
            if roll < rate:
                out.append(rng.choice(filler))
        return "".join(out)
    words = " ".join(pool[rng.randrange(len(pool))] for _ in range(5)).split()
    paragraphs = []
    for paragraph in text.split("\n\n"):
        out = []
        for word in paragraph.split(" "):
            roll = rng.random()
            if roll < rate / 3:
                continue
            if roll < 2 * rate / 3:
                out.append(rng.choice(words))
                continue
            out.append(word)
            if roll < rate:
                out.append(rng.choice(words))
        paragraphs.append(" ".join(out))
    return "\n\n".join(paragraphs)


def _near_copy(text: str, rng: random.Random, chinese: bool, pool: list[str]) -> str:
    edited = _edit_tokens(text, rng, rng.uniform(*EDIT_RATE), chinese, pool)
    if rng.random() < 0.3:  # reorder paragraphs
        paragraphs = edited.split("\n\n")
        rng.shuffle(paragraphs)
        edited = "\n\n".join(paragraphs)
    if rng.random() < 0.3:  # site header / footer
        edited = f"Home | News | Contact\n\n{edited}\n\n© {rng.randint(2001, 2025)} All rights reserved."
    if rng.random() < 0.5:  # punctuation and whitespace noise, invisible in the dedup key
        edited = edited.replace(". ", " .  ").replace(",", " , ").replace("\n\n", "\n \n")
    return edited


def generate(n_docs: int, seed: int, sentences: tuple[list[str], list[str]] | None = None) -> list[Doc]:
    """`n_docs` documents with planted clusters, shuffled, deterministic for a seed.

    >>> docs = generate(400, 1)  # doctest: +SKIP
    """
    english, chinese = sentences or load_sentences()
    rng = random.Random(seed)
    docs: list[Doc] = []
    counter = 0

    def new_id() -> str:
        nonlocal counter
        counter += 1
        return doc_id(f"bench/seed{seed}", str(counter))

    def add(text: str, lang: str, kind: str, origin: str | None) -> Doc:
        doc = Doc(new_id(), text, lang, kind, origin)
        docs.append(doc)
        return doc

    def base(kind: str = "base") -> Doc:
        is_zh = rng.random() < CHINESE_FRACTION
        return add(_base_text(rng, chinese if is_zh else english, is_zh), "zh" if is_zh else "en", kind, None)

    skew_copies = max(100, int(n_docs * SKEW_COPIES_PER_DOC))
    page = "Cookie notice. " + " ".join(rng.sample(english, 12))
    skew_root = add(page, "en", "skew", None)
    for _ in range(skew_copies - 1):
        add(page if rng.random() < 0.8 else page.replace(". ", ".\n"), "en", "skew", skew_root.doc_id)

    blocks = [" ".join(rng.sample(english, 3)) for _ in range(20)]
    n_near = int(n_docs * NEAR_FRACTION)
    n_exact = int(n_docs * EXACT_FRACTION)
    n_hard = int(n_docs * HARD_NEGATIVE_FRACTION)
    made_near = 0
    while made_near < n_near:
        root = base()
        is_zh = root.lang == "zh"
        for _ in range(rng.randint(1, 9)):
            add(_near_copy(root.text, rng, is_zh, chinese if is_zh else english), root.lang, "near", root.doc_id)
            made_near += 1
    for _ in range(n_exact):
        root = base()
        add(root.text, root.lang, "exact", root.doc_id)
    for _ in range(n_hard):
        block = rng.choice(blocks)
        # the document's own text is at least HARD_NEGATIVE_LENGTH_RATIO times the block, so two
        # documents that share it stay far below Jaccard 0.5 (the benchmark computes the truth)
        text = _base_text(rng, english, False, min_chars=len(block) * HARD_NEGATIVE_LENGTH_RATIO)
        cut = rng.randrange(len(text) + 1)
        add(text[:cut] + " " + block + " " + text[cut:], "en", "hard_negative", None)
    while len(docs) < n_docs:
        base()
    rng.shuffle(docs)
    return docs[:n_docs] if len(docs) > n_docs else docs


def corpus_hash(docs: list[Doc]) -> str:
    """BLAKE2b-128 over every (doc_id, text), in order: the generator's output fingerprint.

    >>> corpus_hash([]) == corpus_hash([])
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    for doc in docs:
        digest.update(doc.doc_id.encode() + b"\x00" + doc.text.encode("utf-8") + b"\x00")
    return digest.hexdigest()


def planted_pairs(docs: list[Doc], keys: dict[str, str]) -> list[tuple[str, str, str, float]]:
    """(member, origin, kind, exact 5-gram Jaccard of their dedup keys) for every planted copy.

    >>> planted_pairs([], {})
    []
    """
    lang = {doc.doc_id: doc.lang for doc in docs}
    cache: dict[str, set[str]] = {}

    def shingle_set(identifier: str) -> set[str]:
        if identifier not in cache:
            cache[identifier] = set(shingles(keys[identifier], 5, lang[identifier]))
        return cache[identifier]

    return [
        (doc.doc_id, doc.origin, doc.kind, jaccard(shingle_set(doc.doc_id), shingle_set(doc.origin)))
        for doc in docs
        if doc.origin is not None
    ]


def background_jaccard(docs: list[Doc], keys: dict[str, str], samples: int, seed: int) -> float:
    """Largest exact Jaccard among random pairs of base documents (should stay < 0.3).

    >>> background_jaccard([], {}, 10, 1)
    0.0
    """
    bases = [doc for doc in docs if doc.kind in ("base", "hard_negative")]
    if len(bases) < 2:
        return 0.0
    rng = random.Random(seed)
    worst = 0.0
    for _ in range(samples):
        left, right = rng.sample(bases, 2)
        worst = max(worst, jaccard(shingles(keys[left.doc_id], 5, left.lang), shingles(keys[right.doc_id], 5, right.lang)))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--data", type=Path, default=WARC_ROOT, help="folder of the sample WARC files")
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = generate(args.docs, args.seed, sentences=load_sentences(args.data))
    table = pa.table(
        {
            "doc_id": [doc.doc_id for doc in docs],
            "text": [doc.text for doc in docs],
            "lang": [doc.lang for doc in docs],
            "kind": [doc.kind for doc in docs],
            "origin": [doc.origin for doc in docs],
        }
    )
    pq.write_table(table, args.out)
    print(f"{len(docs)} documents, seed {args.seed}, hash {corpus_hash(docs)} → {args.out}")


if __name__ == "__main__":
    main()
