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
import json
import math
import random
import re
from collections import defaultdict
from collections.abc import Iterator
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
                    _add_sentences(text, english, chinese)
        except OSError:
            continue  # a deliberately damaged sample (e.g. example-trunc.warc): skip the rest of it
    return sorted(english), sorted(chinese)


def _add_sentences(text: str, english: set[str], chinese: set[str]) -> None:
    """Split a page's text into sentences: mostly-Han lines into Chinese ones, the rest into
    English ones (at least six words, no CJK letter)."""
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



# --- The end-to-end corpus (benchmarks/bench_e2e.py): JSONL shards a user would hand over ---------
#
# Text of English and Chinese pages only, read with corpusforge's own readers (WARC reader and
# HTML → text, then its language ID per page), plus the Financial PhraseBank sentences (its CSV
# through corpusforge's CSV reader). Chinese text is recombined at the clause level (，、；：):
# the samples hold only ~35k Han characters, so whole sentences would repeat far too often.
E2E_VERSION = 1  # bump when the generator's output changes: cached corpora are then rebuilt
E2E_SHORT, E2E_NEWS, E2E_LONG = 0.50, 0.47, 0.03  # document kinds by share of base documents
E2E_SHORT_CHARS = (20, 200)  # short reviews and sentences
E2E_NEWS_CHARS = 2000  # news: log-normal around this many characters (clamped to 600–6,000)
E2E_LONG_CHARS = (10_000, 50_000)  # long pages, log-uniform; English only (see E2E_MAX_CHARS_ZH)
E2E_SHORT_MIN_CHARS_ZH = 40  # shorter Chinese texts of a few clauses would repeat by chance
E2E_MAX_CHARS_ZH = 2_000  # longer Chinese documents would cover much of the ~35k-character pool
E2E_CHINESE = 0.30  # share of all documents in Chinese (drawn among short and news documents)
E2E_EXACT = 0.05  # share of documents that are verbatim copies of another document
E2E_NEAR = 0.10  # share that are edited copies (dedup_corpus._near_copy), 1–3 per origin
E2E_SUBSTITUTE = 0.3  # word substitution rate that turns one English sentence into a new short text
E2E_BLOCK = 20_000  # documents generated and shuffled together: copies stay within a block
_CLAUSE_ZH = re.compile(r"(?<=[，、；：,])")


@dataclass(frozen=True)
class TextPools:
    """Where the end-to-end corpus's text comes from."""

    english: list[str]  # sentences of English pages (WARC)
    chinese_clauses: list[str]  # clauses of Chinese pages' sentences (WARC)
    finsent: list[str]  # Financial PhraseBank sentences (Train_Data.csv + Test_Data.csv)

    def summary(self) -> str:
        return (f"{len(self.english)} English sentences, {len(self.chinese_clauses)} Chinese clauses "
                f"({sum(map(len, self.chinese_clauses))} chars), {len(self.finsent)} financial sentences")


def load_text_pools(data_root: Path) -> TextPools:
    """Sentences of the English and Chinese pages of `<data_root>/warc` and the sentences of
    `<data_root>/finsent`, read with corpusforge's own readers.

    >>> pools = load_text_pools(Path("../shared/data"))  # doctest: +SKIP
    """
    from corpusforge.ingest import detect_format
    from corpusforge.ingest.base import IngestOptions
    from corpusforge.ingest.files import read_file
    from corpusforge.ingest.uris import local_uri
    from corpusforge.text.langid import detect_language

    english: set[str] = set()
    chinese: set[str] = set()
    for path in sorted(glob.glob(str(data_root / "warc" / "**" / "*"), recursive=True)):
        fmt = detect_format(path)
        if fmt not in ("warc", "arc", "wet"):
            continue
        # damaged samples become dropped records (drop_reason set, no text): the reader never raises
        for record in read_file(local_uri(path), fmt, IngestOptions()):
            if record.text and record.drop_reason is None:
                lang, _ = detect_language(record.text)
                if lang in ("en", "zh"):
                    page_en: set[str] = set()
                    page_zh: set[str] = set()
                    _add_sentences(record.text, page_en, page_zh)
                    (english if lang == "en" else chinese).update(page_en if lang == "en" else page_zh)
    clauses = {c.strip() for sentence in chinese for c in _CLAUSE_ZH.split(sentence) if len(c.strip()) >= 4}
    finsent: set[str] = set()
    options = IngestOptions(text_field="content")
    for name in ("Train_Data.csv", "Test_Data.csv"):  # UTF-8 (all-data.csv is Latin-1 and repeats them)
        for record in read_file(local_uri(str(data_root / "finsent" / name)), "csv", options):
            if record.text:
                finsent.add(record.text.strip())
    if not english or not clauses or not finsent:
        raise SystemExit(f"{data_root}: found {len(english)} English sentences, {len(clauses)} Chinese clauses, "
                         f"{len(finsent)} financial sentences; expected ../shared/data (warc/, finsent/)")
    return TextPools(sorted(english), sorted(clauses), sorted(finsent))


def _short_english(rng: random.Random, pools: TextPools) -> str:
    """A new short text: a real sentence with some words swapped for words of another one."""
    sentence = rng.choice(pools.finsent if rng.random() < 0.6 else pools.english)
    donor = rng.choice(pools.finsent).split()
    words = [rng.choice(donor) if rng.random() < E2E_SUBSTITUTE else word for word in sentence.split()]
    text = " ".join(words)
    low, high = E2E_SHORT_CHARS
    while len(text) < low:
        text += " " + rng.choice(pools.finsent)
    if len(text) > high:
        text = text[:high].rsplit(" ", 1)[0]
    return text


def _chinese_sentence(rng: random.Random, pools: TextPools) -> str:
    clauses = [rng.choice(pools.chinese_clauses).rstrip("，、；：,。！？") for _ in range(rng.randint(1, 4))]
    return "，".join(clauses) + rng.choice("。。。！？")


def _chinese_text(rng: random.Random, pools: TextPools, target: int) -> str:
    paragraphs, length = [], 0
    while length < target:
        paragraph = "".join(_chinese_sentence(rng, pools) for _ in range(rng.randint(2, 6)))
        paragraphs.append(paragraph)
        length += len(paragraph)
    text = "\n\n".join(paragraphs)
    return text[:target] if len(text) > target * 1.5 else text


def _english_text(rng: random.Random, pools: TextPools, target: int) -> str:
    sentences, length = [], 0
    while length < target:
        sentence = rng.choice(pools.english if rng.random() < 0.7 else pools.finsent)
        sentences.append(sentence)
        length += len(sentence) + 1
    per_paragraph = rng.randint(2, 6)
    return "\n\n".join(" ".join(sentences[i : i + per_paragraph]) for i in range(0, len(sentences), per_paragraph))


def e2e_base_document(rng: random.Random, pools: TextPools) -> tuple[str, str, str]:
    """(text, lang, length class) of one new document of the end-to-end mix.

    >>> pools = TextPools(["One two three four five six."], ["今天天气很好，"], ["Sales rose by ten percent in May."])
    >>> text, lang, size = e2e_base_document(random.Random(1), pools)
    >>> size in ("short", "news", "long") and lang in ("en", "zh")
    True
    """
    roll = rng.random()
    size = "short" if roll < E2E_SHORT else "news" if roll < E2E_SHORT + E2E_NEWS else "long"
    # Chinese only among short and news documents, at the rate that makes ~30 % overall
    chinese = size != "long" and rng.random() < E2E_CHINESE / (1 - E2E_LONG)
    if size == "short":
        if chinese:
            high = E2E_SHORT_CHARS[1]
            return _chinese_text(rng, pools, rng.randint(E2E_SHORT_MIN_CHARS_ZH, high))[:high], "zh", size
        return _short_english(rng, pools), "en", size
    if size == "news":
        target = int(min(6000, max(600, rng.lognormvariate(math.log(E2E_NEWS_CHARS), 0.4))))
        if chinese:
            return _chinese_text(rng, pools, min(target // 2, E2E_MAX_CHARS_ZH)), "zh", size  # ~3 bytes a character
        return _english_text(rng, pools, target), "en", size
    low, high = E2E_LONG_CHARS
    return _english_text(rng, pools, int(math.exp(rng.uniform(math.log(low), math.log(high))))), "en", size


def e2e_documents(n_docs: int, seed: int, pools: TextPools) -> Iterator[list[dict]]:
    """Blocks of at most E2E_BLOCK documents ({id, text, lang, kind, origin, size}), each block
    shuffled, deterministic for a seed: the whole corpus is never in memory. ids are
    'd' + 9 digits in order of generation; `origin` is the id a copy was made from.

    >>> sum(len(b) for b in e2e_documents(50, 1, TextPools(["One two three four five six."], ["今天天气很好，"], ["Sales rose."])))
    50
    """
    rng = random.Random(seed)
    counter = 0
    remaining = n_docs
    while remaining:
        size = min(E2E_BLOCK, remaining)
        remaining -= size
        n_exact, n_near = round(size * E2E_EXACT), round(size * E2E_NEAR)
        block: list[dict] = []

        def add(text: str, lang: str, kind: str, origin: str | None, length: str) -> dict:
            nonlocal counter
            counter += 1
            doc = {"id": f"d{counter:09d}", "text": text, "lang": lang, "kind": kind, "origin": origin, "size": length}
            block.append(doc)
            return doc

        bases = []
        for _ in range(size - n_exact - n_near):
            text, lang, length = e2e_base_document(rng, pools)
            bases.append(add(text, lang, "base", None, length))
        made_near = 0
        while made_near < n_near and bases:
            root = rng.choice(bases)
            pool = pools.chinese_clauses if root["lang"] == "zh" else pools.english
            for _ in range(min(rng.randint(1, 3), n_near - made_near)):
                add(_near_copy(root["text"], rng, root["lang"] == "zh", pool), root["lang"], "near", root["id"], root["size"])
                made_near += 1
        for _ in range(n_exact if bases else 0):
            root = rng.choice(bases)
            add(root["text"], root["lang"], "exact", root["id"], root["size"])
        rng.shuffle(block)
        yield block


def default_shards(n_docs: int) -> int:
    """Number of JSONL files: even (two cores), at least 4, about 20k documents each.

    >>> default_shards(10_000), default_shards(100_000), default_shards(1_000_000)
    (4, 6, 50)
    """
    return max(4, 2 * math.ceil(n_docs / 40_000))


def write_e2e_corpus(out_dir: Path, n_docs: int, seed: int, pools: TextPools, shards: int | None = None) -> dict:
    """Write `n_docs` documents as JSONL shards (`<out_dir>/input/part-NNN.jsonl`, records
    {"id", "text"}) and `<out_dir>/truth.tsv` (id, kind, lang, size, origin), streaming; return
    the manifest (also written as `<out_dir>/manifest.json`, last, so a half-written corpus is
    never reused). The truth stays outside input/: corpusforge would read a .tsv file there.

    The corpus sha256 is that of the `sha256sum` listing of the shards in name order:
    `cd DIR/input && sha256sum part-*.jsonl | sha256sum` prints it.
    """
    shards = shards or default_shards(n_docs)
    (out_dir / "input").mkdir(parents=True, exist_ok=True)
    names = [f"part-{index:03d}.jsonl" for index in range(shards)]
    digests = [hashlib.sha256() for _ in names]
    files = [open(out_dir / "input" / name, "wb") for name in names]
    counts: dict[str, int] = defaultdict(int)
    chars = 0
    position = 0
    try:
        with open(out_dir / "truth.tsv", "w", encoding="utf-8") as truth:
            truth.write("id\tkind\tlang\tsize\torigin\n")
            for block in e2e_documents(n_docs, seed, pools):
                for doc in block:
                    line = (json.dumps({"id": doc["id"], "text": doc["text"]}, ensure_ascii=False) + "\n").encode("utf-8")
                    shard = position % shards  # round-robin over the shuffled block: copies land in other files
                    position += 1
                    files[shard].write(line)
                    digests[shard].update(line)
                    truth.write(f"{doc['id']}\t{doc['kind']}\t{doc['lang']}\t{doc['size']}\t{doc['origin'] or ''}\n")
                    counts[f"kind.{doc['kind']}"] += 1
                    counts[f"lang.{doc['lang']}"] += 1
                    counts[f"size.{doc['size']}"] += 1
                    chars += len(doc["text"])
    finally:
        for handle in files:
            handle.close()
    manifest = {
        "generator_version": E2E_VERSION, "docs": n_docs, "seed": seed, "shards": shards,
        "sha256": _listing_sha256(digests, names), "files": names,
        "bytes": sum((out_dir / "input" / name).stat().st_size for name in names), "chars": chars,
        "counts": dict(sorted(counts.items())), "pools": pools.summary(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _listing_sha256(digests: list, names: list[str]) -> str:
    listing = "".join(f"{digest.hexdigest()}  {name}\n" for digest, name in zip(digests, names))
    return hashlib.sha256(listing.encode()).hexdigest()


def e2e_corpus_sha256(out_dir: Path, names: list[str]) -> str:
    """The corpus sha256 of shards already written (see write_e2e_corpus), read back from disk."""
    digests = []
    for name in names:
        digest = hashlib.sha256()
        with open(out_dir / "input" / name, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
        digests.append(digest)
    return _listing_sha256(digests, names)


def describe_e2e_corpus(manifest: dict) -> str:
    """One paragraph: size, mix and planted rates of a corpus manifest."""
    counts, n = manifest["counts"], manifest["docs"]

    def share(key: str) -> str:
        return f"{counts.get(key, 0)} ({100 * counts.get(key, 0) / n:.1f} %)"

    return (f"{n} documents in {manifest['shards']} JSONL files, {manifest['bytes'] / 2**20:.1f} MiB, "
            f"mean {manifest['chars'] / n:.0f} chars; seed {manifest['seed']}; sha256 {manifest['sha256']}\n"
            f"  short {share('size.short')}, news {share('size.news')}, long {share('size.long')}; "
            f"Chinese {share('lang.zh')}\n"
            f"  planted: exact copies {share('kind.exact')}, near copies {share('kind.near')} "
            f"(word/char edits 1–10 %, reordered paragraphs, header/footer, punctuation)\n"
            f"  text: {manifest['pools']}")


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
