"""The crawler: a Nutch-style cycle (generate → fetch → parse → updatedb) over a Delta crawldb.

The policy is pure and imports no pyspark: `config` (the `[crawl]` section), `urls`
(normalization, filters, scope), `robots` (RFC 9309 through protego), `guard` (which
addresses may be contacted), `schedule` (per-host waits, crawldb state transitions),
`fetch` (one host's queue over HTTP, into WARC records) and `parse` (outlinks). Only
`round` (the Spark round) and `cli` (the job) touch Spark.
"""
