"""A crawl whose output is on s3a:// (moto on 127.0.0.1, the session's one S3 server): the
crawldb, robots and stats tables, the WARC files and the lock all live in the bucket."""
from __future__ import annotations

import gzip
import io

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawljobs import SETTINGS
from corpusforge.crawl.config import load_crawl_config
from corpusforge.crawl.round import run_crawl
from corpusforge.tables import fs
from corpusforge.tables.delta import read_table

pytestmark = [pytest.mark.spark, pytest.mark.s3]


def test_a_round_writes_its_output_to_s3a(s3_spark, s3_server, bucket, site, tmp_path):
    out = f"{bucket}/crawl"
    local = tmp_path / "warc-staging"
    cfg = load_crawl_config(overrides=SETTINGS + [f"crawl.local_dir={local}"])
    summary = run_crawl(s3_spark, cfg, site.info["seeds"], out, rounds=1, run_id="s3")
    (r1,) = summary.rounds
    assert (r1.generated, r1.count("fetched")) == (2, 2)

    db = {r.url: r for r in read_table(s3_spark, out, "crawldb").collect()}
    assert {db[seed].status for seed in site.info["seeds"]} == {"fetched"}
    assert {row.status for url, row in db.items() if url not in site.info["seeds"]} == {"unfetched"}
    robots = read_table(s3_spark, out, "robots").collect()
    assert sorted(r.outcome for r in robots) == ["allow_all", "rules"]

    # The WARC files are objects in the bucket, named by the crawldb and the ledger.
    client, name = s3_server.client(), bucket.removeprefix("s3a://")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=name, Prefix="crawl/warc/").get("Contents", [])]
    assert keys and {f"crawl/warc/{db[seed].warc_file}" for seed in site.info["seeds"]} <= set(keys)
    targets = []
    for key in keys:
        body = client.get_object(Bucket=name, Key=key)["Body"].read()
        gzip.decompress(body)  # a whole, valid gzip file
        targets += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(io.BytesIO(body))
                    if r.rec_type == "response"]
    assert sorted(targets) == sorted(site.info["seeds"])
    ledger = read_table(s3_spark, out, "ledger").collect()
    assert sorted(r.input_uri for r in ledger) == sorted(f"{bucket}/{key}" for key in keys)
    assert sum(r.records_read for r in ledger) == 2

    # Nothing is left behind: no staging in the bucket or on local disk, the lock given back.
    assert fs.list_dirs(s3_spark, f"{out}/_staging") == [] and not fs.exists(s3_spark, f"{out}/_lock")
    assert not any(path.is_file() for path in local.rglob("*"))
