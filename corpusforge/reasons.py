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
