"""PostgreSQL + pgvector at a synthetic N passages (default 1,000,000):
query latency of the two legs sok asks of it (BM25 in SQL, HNSW nearest
passages), unfiltered and filtered to one municipality, and what loading and
indexing cost. The embedded backend's figures at the same scale are in
BENCHMARKS.md (vector_scale.py, lexical_scale.py).

The rows are made inside the server, so no Python loop formats a million
vectors: the shared corpus is published first, and its own terms (sok's
Swedish stems, most frequent first) are drawn with a skew towards the
frequent ones, 60 per passage; vectors are random, normalised, 384
dimensions; ten municipalities. Queries are the dev questions' own terms.
Sentence windows are left out (their index would be 3.4x the passages').

    .venv/bin/python -m benchmarks.postgres_scale [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import run_part
from benchmarks.backends import EVAL
from benchmarks.search_quality import bench_index

ROOT = Path(__file__).resolve().parents[1]


def _fill(db, n: int) -> dict:
    seconds = {}
    t = time.perf_counter()
    db.execute("DROP INDEX sok_passages_embedding")  # built once after the load, not row by row
    db.execute("DROP INDEX sok_passages_lex")
    db.execute("CREATE TEMP TABLE vocab AS SELECT array_agg(lexeme ORDER BY df DESC) AS words FROM sok_lexemes"
               " WHERE lexeme ~ '^[a-zåäö]+$'")
    db.execute(
        """
        INSERT INTO sok_passages (id, file_id, document_id, ordinal, text, text_hash, page_start, page_end, char_start,
            char_end, heading_path, is_decision, dates, case_numbers, municipality, ocr, repaired, doc_case_numbers,
            lex, dl, embedding, content_key)
        SELECT 10000000 + g, 10000000 + g / 50, NULL, g %% 50, t.txt, md5(t.txt), 1, 1, 0, 0, '[]', 0, '[]', '[]',
               'Syntetisk kommun ' || (g %% 10), 0, 0, '[]', to_tsvector('simple', t.txt), 60,
               l2_normalize(v.vec::vector), 'syntetisk'
        FROM generate_series(1, %s) g, vocab,
        LATERAL (SELECT string_agg(words[1 + floor(array_length(words, 1) * random() ^ 3)::int + 0 * i], ' ') AS txt
                 FROM generate_series(1, 60) i WHERE g > 0) t,
        LATERAL (SELECT array_agg(random() - 0.5)::real[] AS vec FROM generate_series(1, 384) WHERE g > 0) v
        """, (n,))
    seconds["insert"] = time.perf_counter() - t
    t = time.perf_counter()
    db.execute("CREATE INDEX sok_passages_lex ON sok_passages USING gin (lex)")
    seconds["gin"] = time.perf_counter() - t
    t = time.perf_counter()
    db.execute("SET maintenance_work_mem = '6GB'")
    db.execute("CREATE INDEX sok_passages_embedding ON sok_passages USING hnsw (embedding vector_cosine_ops)")
    seconds["hnsw"] = time.perf_counter() - t
    t = time.perf_counter()
    db.execute("DELETE FROM sok_lexemes")
    db.execute("INSERT INTO sok_lexemes SELECT word, ndoc FROM ts_stat('SELECT lex FROM sok_passages')")
    stats = db.execute("SELECT count(*) AS n, avg(dl) AS avgdl FROM sok_passages").fetchone()
    for key, value in (("bm25_n", stats["n"]), ("bm25_avgdl", float(stats["avgdl"]))):
        db.execute("UPDATE sok_meta SET value = %s WHERE key = %s", (str(value), key))
    db.execute("VACUUM ANALYZE sok_passages")
    seconds["stats"] = time.perf_counter() - t
    size = db.execute("SELECT pg_total_relation_size('sok_passages') AS b,"
                      " pg_relation_size('sok_passages_embedding') AS h").fetchone()
    return {"seconds": {k: round(v, 1) for k, v in seconds.items()}, "passages": stats["n"],
            "total_gb": round(size["b"] / 1e9, 2), "hnsw_gb": round(size["h"] / 1e9, 2)}


def _timed(call, queries) -> dict:
    times = []
    for q in queries:
        t = time.perf_counter()
        call(q)
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median_ms": round(1000 * statistics.median(times), 1), "p95_ms": round(1000 * times[int(0.95 * len(times))], 1)}


def run(quick: bool = False) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import psycopg
    from psycopg.rows import dict_row

    from postgres_server import postgres_server
    from sok.records import Filters
    from sok.store.postgres import PostgresBackend, publish

    n = 20_000 if quick else 1_000_000
    _, index = bench_index()
    questions = [json.loads(line)["question"] for f in EVAL for line in open(f, encoding="utf-8") if line.strip()][:100]
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(questions), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with postgres_server(55470) as url:
        publish(index, url)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as db:
            out = _fill(db, n)
        backend = PostgresBackend(url)
        one = backend.filter_ids(Filters())  # every passage; the filtered runs use one synthetic municipality
        with psycopg.connect(url, row_factory=dict_row) as db:
            town = np.array([r["id"] for r in db.execute(
                "SELECT id FROM sok_passages WHERE municipality = 'Syntetisk kommun 3'")], dtype=np.int64)
        out["lexical"] = _timed(lambda q: backend.lexical(q, 100), questions)
        out["lexical_one_municipality"] = _timed(lambda q: backend.lexical(q, 100, allowed=town), questions)
        vecs = iter(vectors)
        out["dense"] = _timed(lambda q: backend.dense(next(vecs), 100), questions)
        vecs = iter(vectors)
        out["dense_one_municipality"] = _timed(lambda q: backend.dense(next(vecs), 100, allowed=town), questions)
        out["one_municipality"] = len(town)
        out["all"] = len(one)
        backend.close()
    return out


def markdown(r: dict) -> str:
    s = r["seconds"]
    rows = [("BM25, top 100", r["lexical"]), (f"BM25, top 100 of one municipality ({r['one_municipality']:,})",
                                               r["lexical_one_municipality"]),
            ("HNSW, top 100", r["dense"]), ("HNSW, top 100 of one municipality (iterative scan)",
                                            r["dense_one_municipality"])]
    return ("## PostgreSQL + pgvector at scale (synthetic)\n\n"
            f"{r['passages']:,} passages ({r['all']:,} read back): rows made in the server in {s['insert']} s, "
            f"GIN index {s['gin']} s, HNSW index {s['hnsw']} s, statistics {s['stats']} s; "
            f"{r['total_gb']} GB in all, HNSW {r['hnsw_gb']} GB.\n\n"
            "| query (100 dev questions) | median (ms) | p95 (ms) |\n|---|---:|---:|\n"
            + "".join(f"| {name} | {v['median_ms']} | {v['p95_ms']} |\n" for name, v in rows))


if __name__ == "__main__":
    sys.exit(run_part(__doc__, run, markdown))
