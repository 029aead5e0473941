"""The end-to-end benchmark's corpus (benchmarks/dedup_corpus.py) and its peers' bookkeeping:
reproducible for a seed, planted rates as stated, only JSONL under input/, and a pure-Python
peer that agrees with corpusforge's single-process dedup on which copies go."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks.bench_e2e import ID_OVERRIDE, PIPELINE_CONFIGS, REPO, _input_files, _Timer, agreement, peer_loop
from benchmarks.dedup_corpus import E2E_EXACT, E2E_NEAR, TextPools, e2e_corpus_sha256, write_e2e_corpus
from corpusforge.config import load_config

# Small real-looking pools (no ../shared in tests): enough variety that unrelated documents differ.
POOLS = TextPools(
    english=[f"Sentence number {i} talks about topic {i * 7 % 31} and its many details today." for i in range(300)],
    chinese_clauses=[f"{chr(0x4E00 + i)}{chr(0x4E80 + i * 3 % 200)}{chr(0x5100 + i * 5 % 300)}天气很好，"
                     for i in range(300)],
    finsent=[f"Company {i} reported net sales of EUR {i * 3} million in quarter {i % 4 + 1}." for i in range(300)],
)


def test_corpus_is_reproducible_and_has_the_stated_mix(tmp_path: Path) -> None:
    first = write_e2e_corpus(tmp_path / "a", 400, 7, POOLS)
    second = write_e2e_corpus(tmp_path / "b", 400, 7, POOLS)
    other = write_e2e_corpus(tmp_path / "c", 400, 8, POOLS)
    assert first["sha256"] == second["sha256"] != other["sha256"]
    assert e2e_corpus_sha256(tmp_path / "a", first["files"]) == first["sha256"]
    listing = subprocess.run("sha256sum part-*.jsonl | sha256sum", shell=True, cwd=tmp_path / "a" / "input",
                             capture_output=True, text=True, check=True).stdout.split()[0]
    assert listing == first["sha256"]  # the documented shell check
    assert sorted(p.name for p in (tmp_path / "a" / "input").iterdir()) == first["files"]
    counts = first["counts"]
    assert counts["kind.exact"] == round(400 * E2E_EXACT) and counts["kind.near"] == round(400 * E2E_NEAR)
    assert 0.2 < counts["lang.zh"] / 400 < 0.4
    records = [json.loads(line) for name in first["files"] for line in open(tmp_path / "a" / "input" / name)]
    assert len({r["id"] for r in records}) == 400 and all(set(r) == {"id", "text"} for r in records)


def test_loop_peer_removes_every_planted_exact_copy(tmp_path: Path) -> None:
    write_e2e_corpus(tmp_path, 300, 3, POOLS)
    truth = [line.rstrip("\n").split("\t") for line in open(tmp_path / "truth.tsv", encoding="utf-8")][1:]
    cfg = load_config(REPO / PIPELINE_CONFIGS["dedup"], [ID_OVERRIDE])
    removed = peer_loop(cfg, _input_files(tmp_path, cfg), _Timer())
    text_of = {}
    for name in sorted((tmp_path / "input").iterdir()):
        text_of.update((r["id"], r["text"]) for r in map(json.loads, open(name, encoding="utf-8")))
    groups: dict[str, set[str]] = {}  # origin → it and its verbatim copies
    for input_id, kind, _, _, origin in truth:
        if kind == "exact":
            groups.setdefault(origin, {origin}).add(input_id)
    assert groups
    for members in groups.values():  # all but at most one copy go (the kept one may be a near duplicate)
        assert len(members - set(removed)) <= 1, members
    all_ids = {row[0] for row in truth}
    assert agreement(all_ids - set(removed), all_ids - set(removed), all_ids)["kept_jaccard"] == 1.0
