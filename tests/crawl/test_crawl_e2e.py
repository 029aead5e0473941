"""The crawl job's refusal without a user agent: checked before any work, in its own process
(no JVM is started). The whole job end to end (killed, resumed, read by build_corpus) is in
test_crawl_round.py, which shares one crawl between its checks."""
from __future__ import annotations

from crawljobs import run_job


def test_no_user_agent_is_refused_before_any_work(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.2/\n")
    rc, _out, err = run_job("crawl.py", ["--seeds", str(seeds), "--output", str(tmp_path / "out")], submit=False)
    assert rc == 2
    assert [line for line in err.splitlines() if line.startswith("crawl: error:")] == [
        "crawl: error: crawl.user_agent is required: name your crawler (and a contact URL) so site "
        "owners can tell who is fetching"]
    assert not (tmp_path / "out").exists()
