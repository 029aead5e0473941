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
}
REASONS = {**REASONS, **CRAWL_REASONS}
