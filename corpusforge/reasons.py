"""Every drop reason a run can write, with the one line a user reads (DESIGN.md, "Drop keys").

`drop_reason` is `<family>.<rule>`, stable snake_case. The quality-filter and language-ID
reasons live beside their rules (filters/common.py) and are merged in here, so this is the
one catalogue of them all.
"""
from __future__ import annotations

from corpusforge.filters.common import REASONS as FILTER_REASONS

INGEST_REASONS = {
    "ingest.unreadable": "the file could not be read past this offset (damage, or not the format)",
    "ingest.truncated_record": "the record ends before its declared length",
    "ingest.corrupt_record": "the record's headers or HTTP envelope cannot be parsed",
    "ingest.too_large": "the record is larger than input.max_record_bytes",
    "ingest.not_text": "the payload is not text (an image, a PDF, JSON ...)",
    "ingest.no_text": "no text: an empty payload, extraction found none, or the text field is missing",
    "ingest.undecodable": "the bytes cannot be decoded in any plausible charset",
    "ingest.http_status": "the HTTP response was not a success (2xx)",
    "ingest.extract_failed": "the HTML extractor failed on this page",
    "ingest.bad_json": "the JSON line does not parse",
    "ingest.not_object": "the JSON line is not an object",
    "ingest.missing_column": "the configured text/id/label column is not in the file",
    "ingest.missing_id": "the configured id field is empty",
}

STAGE_REASONS = {
    "normalize.empty_text": "nothing is left after normalization",
    "boilerplate.empty_text": "nothing is left after removing the host's boilerplate lines",
    "dedup.exact_duplicate": "same dedup key as the kept document named in `detail`",
    "dedup.exact_seen_in_earlier_run": "same dedup key as a document an earlier run kept (`detail`)",
    "dedup.near_duplicate": "MinHash near-duplicate of the kept document named in `detail`",
    "dedup.seen_in_earlier_run": "MinHash near-duplicate of a document an earlier run kept (`detail`)",
    "dedup.all_lines_repeated": "every line is repeated corpus-wide more often than allowed",
}

REASONS: dict[str, str] = {**INGEST_REASONS, **STAGE_REASONS, **FILTER_REASONS}

# Where each reason's rule lives: "module:function" (or the stage class whose `flag`/`transform`
# decides it), so a newcomer goes from a `drop_reason` to its rule in one step.
# tests/unit/test_reasons.py checks every reason has one and every path imports.
_GOPHER_REPETITION = "corpusforge.filters.gopher:gopher_repetition"
RULES: dict[str, str] = {
    "ingest.unreadable": "corpusforge.ingest.files:read_file",  # and each reader's resync (ingest/warc.py:_unreadable)
    "ingest.truncated_record": "corpusforge.ingest.warc:_read_payload",
    "ingest.corrupt_record": "corpusforge.ingest.warc:_to_record",
    "ingest.too_large": "corpusforge.ingest.warc:_read_payload",  # likewise jsonl.read_jsonl, text.read_text
    "ingest.not_text": "corpusforge.ingest.warc:_payload_to_text",
    "ingest.no_text": "corpusforge.ingest.warc:_payload_to_text",  # likewise jsonl._from_object, tabular._row_record
    "ingest.undecodable": "corpusforge.ingest.warc:_payload_to_text",  # likewise text._decoded, tabular._row_record
    "ingest.http_status": "corpusforge.ingest.warc:_to_record",
    "ingest.extract_failed": "corpusforge.ingest.warc:_payload_to_text",
    "ingest.bad_json": "corpusforge.ingest.jsonl:read_jsonl",
    "ingest.not_object": "corpusforge.ingest.jsonl:read_jsonl",
    "ingest.missing_column": "corpusforge.ingest.tabular:_row_record",
    "ingest.missing_id": "corpusforge.ingest.tabular:_row_record",
    "normalize.empty_text": "corpusforge.text.normalize:normalize_text",
    "boilerplate.empty_text": "corpusforge.stages.boilerplate:BoilerplateStage",
    "dedup.exact_duplicate": "corpusforge.stages.exact_dedup:ExactDedupStage",
    "dedup.exact_seen_in_earlier_run": "corpusforge.stages.exact_dedup:ExactDedupStage",
    "dedup.near_duplicate": "corpusforge.stages.minhash_dedup:MinHashDedupStage",  # reference: dedup.lsh.near_duplicates_local
    "dedup.seen_in_earlier_run": "corpusforge.stages.lsh:against_index",
    "dedup.all_lines_repeated": "corpusforge.stages.line_dedup:LineDedupStage",
    "langid.no_text": "corpusforge.text.langid:langid_reason",
    "langid.low_score": "corpusforge.text.langid:langid_reason",
    "langid.unwanted_language": "corpusforge.text.langid:langid_reason",
    **{reason: "corpusforge.filters.gopher:gopher_quality" for reason in FILTER_REASONS
       if reason.startswith("gopher.") and not reason.startswith(("gopher.dup_", "gopher.top_"))},
    **{reason: _GOPHER_REPETITION for reason in FILTER_REASONS if reason.startswith(("gopher.dup_", "gopher.top_"))},
    **{reason: "corpusforge.filters.c4:c4_quality" for reason in FILTER_REASONS if reason.startswith("c4.")},
    **{reason: "corpusforge.filters.fineweb:fineweb_quality" for reason in FILTER_REASONS if reason.startswith("fineweb.")},
    **{reason: "corpusforge.filters.cjk:cjk_quality" for reason in FILTER_REASONS if reason.startswith("cjk.")},
}

