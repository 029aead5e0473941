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

# The crawler (corpusforge/crawl): why a generated URL was skipped or failed, how a fetched one
# ended, and why a discovered link was not added to the crawldb (stats `crawl.parse`).
CRAWL_REASONS = {
    "crawl.robots_denied": "robots.txt disallows this URL for the crawler's user agent",
    "crawl.robots_unavailable": "robots.txt answered 429/5xx or not at all: the host is deferred",
    "crawl.crawl_delay_too_long": "robots.txt asks a Crawl-delay over crawl.max_crawl_delay_s",
    "crawl.address_refused": "the host has no globally routable address (or loopback not allowed)",
    "crawl.dns_failed": "the host name did not resolve",
    "crawl.connect_failed": "the connection was refused or reset",
    "crawl.timeout": "connect or a read took longer than crawl.timeout_s",
    "crawl.deadline_exceeded": "the whole response took longer than crawl.deadline_s",
    "crawl.protocol_error": "the answer was not valid HTTP",
    "crawl.fetch_error": "the fetch failed for another reason",
    "crawl.http_error": "the server answered 429 or 5xx (retried later)",
    "crawl.retries_exhausted": "the fetch failed more than crawl.max_retries times",
    "crawl.gone": "the server answered 4xx (not 429): the page is gone",
    "crawl.redirect": "the server answered 3xx; the target is in redirect_to",
    "crawl.truncated": "the body was longer than crawl.max_bytes and was cut (WARC-Truncated)",
    "crawl.url_invalid": "the link is not a parsable URL",
    "crawl.url_scheme": "the link is not http or https",
    "crawl.url_too_long": "the URL is longer than crawl.max_url_length",
    "crawl.url_binary_extension": "the path ends in a binary extension (crawl.binary_extensions)",
    "crawl.url_path_trap": "a path segment repeats crawl.max_path_repeats times (a crawler trap)",
    "crawl.url_out_of_scope": "the link leaves the crawl's scope (crawl.scope)",
    "crawl.url_nofollow": "the page says <meta name=robots content=nofollow>",
    "crawl.url_max_outlinks": "the page has more than crawl.max_outlinks links",
    "crawl.url_too_deep": "the link is further than crawl.max_depth from a seed",
    "crawl.tls_untrusted": "the https server's certificate does not verify against the system CAs and crawl.ca_bundle",
}
REASONS = {**REASONS, **CRAWL_REASONS}

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
    # The crawler's skip and failure reasons (crawl/): where each is decided.
    "crawl.robots_denied": "corpusforge.crawl.fetch:fetch_host_queue",
    "crawl.robots_unavailable": "corpusforge.crawl.fetch:fetch_host_queue",
    "crawl.crawl_delay_too_long": "corpusforge.crawl.fetch:fetch_host_queue",
    "crawl.address_refused": "corpusforge.crawl.guard:address_refusal",
    "crawl.dns_failed": "corpusforge.crawl.fetch:fetch_host_queue",
    "crawl.connect_failed": "corpusforge.crawl.fetch:http_get",
    "crawl.timeout": "corpusforge.crawl.fetch:http_get",
    "crawl.deadline_exceeded": "corpusforge.crawl.fetch:http_get",
    "crawl.protocol_error": "corpusforge.crawl.fetch:http_get",
    "crawl.fetch_error": "corpusforge.crawl.schedule:transition",
    "crawl.http_error": "corpusforge.crawl.schedule:transition",
    "crawl.retries_exhausted": "corpusforge.crawl.round:_result_values",
    "crawl.gone": "corpusforge.crawl.schedule:transition",
    "crawl.redirect": "corpusforge.crawl.schedule:transition",
    "crawl.truncated": "corpusforge.crawl.fetch:result_row",
    "crawl.url_invalid": "corpusforge.crawl.parse:filter_link",
    "crawl.url_scheme": "corpusforge.crawl.parse:filter_link",
    "crawl.url_too_long": "corpusforge.crawl.urls:url_drop_reason",
    "crawl.url_binary_extension": "corpusforge.crawl.urls:url_drop_reason",
    "crawl.url_path_trap": "corpusforge.crawl.urls:url_drop_reason",
    "crawl.url_out_of_scope": "corpusforge.crawl.parse:filter_link",
    "crawl.url_nofollow": "corpusforge.crawl.parse:outlinks",
    "crawl.url_max_outlinks": "corpusforge.crawl.parse:outlinks",
    "crawl.url_too_deep": "corpusforge.crawl.fetch:_fetched_row",
    "crawl.tls_untrusted": "corpusforge.crawl.fetch:http_get",
}

