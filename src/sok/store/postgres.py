"""PostgreSQL + pgvector as a backend, for a corpus or a user count past one
machine: `sok --backend postgresql://...`. It implements `SearchBackend`
(store/backend.py), so fusion, the cut-off, answers and citations are sok's
own and rank the same way on either backend; the conformance suite
(tests/test_backend.py) runs against both.

Why it is built this way:
- Writing goes through the embedded pipeline: `sok index` extracts, chunks
  and embeds into the local index folder (which is also the embedding
  cache), then `publish` upserts what changed into PostgreSQL in one
  transaction. One pipeline, never a copy of the stages.
- The lexical leg is BM25 in SQL, not `ts_rank_cd` (which has no IDF): each
  passage's tsvector holds the terms of `lexical.tokenize` (Swedish Snowball
  stems, identifiers whole and split) with their positions, a lexeme table
  holds document frequencies, and the query sums idf × saturated tf exactly
  as tantivy does (k1 1.2, b 0.75). A GIN index finds the candidates.
- Dense legs use HNSW (cosine) with `hnsw.iterative_scan`, so a filtered
  query still returns k hits (where the filter is selective, PostgreSQL's
  planner scans the allowed rows exactly instead).
- Consistent reads: a reader holds one REPEATABLE READ READ ONLY transaction
  between `refresh`es, and `publish` commits a whole index run at once, so
  a search never mixes two runs: PostgreSQL's own snapshots, no home-made
  versioning."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from sok.config import CHUNK
from sok.ingest.politics import party_of, person_key
from sok.language import normalize_case_number
from sok.records import Filters, locating_text
from sok.store.db import BackendError
from sok.store.lexical import _MAX_TERM_CHARS, tokenize

K1, B = 1.2, 0.75  # BM25 as tantivy scores it
MAX_POSITIONS = 256  # a tsvector keeps at most 256 positions per lexeme: tf is capped there
MAX_POSITION = 16383  # and positions above this are stored as this

_PASSAGE_COLUMNS = (
    "id", "file_id", "document_id", "ordinal", "text", "text_hash", "page_start", "page_end", "char_start",
    "char_end", "heading_path", "item", "item_title", "part", "is_decision", "dates", "case_numbers", "relpath",
    "path", "title", "date", "organ", "doc_type", "municipality", "handled_case", "ocr", "repaired",
)

_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS sok_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS sok_passages (
    id bigint PRIMARY KEY, file_id bigint NOT NULL, document_id bigint, ordinal int NOT NULL,
    text text NOT NULL, text_hash text NOT NULL, page_start int NOT NULL, page_end int NOT NULL,
    char_start int NOT NULL, char_end int NOT NULL, heading_path text NOT NULL, item text, item_title text,
    part text, is_decision int NOT NULL, dates text NOT NULL, case_numbers jsonb NOT NULL,
    relpath text, path text, title text, date text, organ text, doc_type text, municipality text,
    handled_case text, ocr int NOT NULL, repaired int NOT NULL, doc_case_numbers jsonb NOT NULL,
    lex tsvector NOT NULL, dl int NOT NULL, embedding vector({dim}), content_key text NOT NULL
);
CREATE INDEX IF NOT EXISTS sok_passages_lex ON sok_passages USING gin (lex);
CREATE INDEX IF NOT EXISTS sok_passages_embedding ON sok_passages USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS sok_passages_item ON sok_passages (file_id, item);
CREATE INDEX IF NOT EXISTS sok_passages_date ON sok_passages (date);
CREATE TABLE IF NOT EXISTS sok_windows (
    passage_id bigint NOT NULL REFERENCES sok_passages(id) ON DELETE CASCADE, ordinal int NOT NULL,
    embedding vector({dim}) NOT NULL, PRIMARY KEY (passage_id, ordinal)
);
CREATE INDEX IF NOT EXISTS sok_windows_embedding ON sok_windows USING hnsw (embedding vector_cosine_ops);
CREATE TABLE IF NOT EXISTS sok_positions (
    passage_id bigint NOT NULL REFERENCES sok_passages(id) ON DELETE CASCADE, ordinal int NOT NULL,
    kind text NOT NULL, person text NOT NULL, person_key text NOT NULL, party text NOT NULL, stance text,
    joined text NOT NULL, text text NOT NULL, PRIMARY KEY (passage_id, ordinal)
);
CREATE TABLE IF NOT EXISTS sok_members (  -- who stated or joined each position: the person/party filter
    passage_id bigint NOT NULL REFERENCES sok_passages(id) ON DELETE CASCADE,
    person_key text NOT NULL, party text NOT NULL
);
CREATE INDEX IF NOT EXISTS sok_members_passage ON sok_members (passage_id);
CREATE TABLE IF NOT EXISTS sok_lexemes (lexeme text PRIMARY KEY, df int NOT NULL);
"""


def _connect(url: str, **kwargs: Any) -> Any:
    import psycopg
    from psycopg.rows import dict_row

    try:
        return psycopg.connect(url, row_factory=dict_row, **kwargs)
    except psycopg.Error as exc:
        where = url.split("@")[-1]  # never the password
        raise BackendError(f"PostgreSQL på {where} kan inte nås: {str(exc).strip().splitlines()[0]}. Kontrollera "
                           "adressen i --backend (eller SOK_BACKEND) och att servern är igång.") from None


def _quote(term: str) -> str:
    """A lexeme as tsvector/tsquery input: quoted, so no text is re-parsed."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: Sequence[str]) -> tuple[str, int]:
    """(the tsvector of `tokenize`'s terms with their positions, their count)."""
    positions: dict[str, list[int]] = {}
    kept = [t for t in terms if len(t) <= _MAX_TERM_CHARS]
    for i, term in enumerate(kept, start=1):
        at = positions.setdefault(term, [])
        if len(at) < MAX_POSITIONS:
            at.append(min(i, MAX_POSITION))
    return " ".join(f"{_quote(t)}:{','.join(map(str, p))}" for t, p in positions.items()), len(kept)


def _vector(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v.tolist()) + "]"


def _term_idf(term: str, n: int, dfs: dict[str, int]) -> float:
    from sok.store.lexical import _idf

    return _idf(n, min(dfs.get(term, 0), n) if len(term) <= _MAX_TERM_CHARS else 0)


def _ids(ids: Any) -> list[int]:
    return [int(i) for i in np.asarray(ids, dtype=np.int64).tolist()]


class PostgresBackend:
    """The read side over one PostgreSQL database (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        # with several hosts in the URL (a primary and its streaming replicas), read from a replica where one
        # answers, else the primary: libpq's own choice, unless the URL says otherwise
        self.db = _connect(url, **({} if "target_session_attrs" in url else {"target_session_attrs": "prefer-standby"}))
        self.db.read_only = True
        self.db.isolation_level = 3  # psycopg.IsolationLevel.REPEATABLE_READ: one snapshot until refresh
        self._generation = self._read_generation()

    # --- snapshot ------------------------------------------------------------------------
    def _read_generation(self) -> int:
        from psycopg.errors import UndefinedTable

        try:
            self._stats = {r["key"]: r["value"] for r in self.db.execute("SELECT key, value FROM sok_meta")}
        except UndefinedTable:
            self.db.rollback()
            raise BackendError("Inget sok-index i databasen. Kör först:  sok --backend URL index MAPP") from None
        return int(self._stats.get("generation", 0))

    @property
    def generation(self) -> int:
        return self._generation

    def refresh(self) -> bool:
        """End this snapshot and take the newest; True when a newer run had been published."""
        self.db.commit()
        before, self._generation = self._generation, self._read_generation()
        return self._generation != before

    def meta(self, key: str) -> str | None:
        return self._stats.get(key)

    def _rows(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        return self.db.execute(sql, args).fetchall()

    # --- filters ---------------------------------------------------------------------------
    def filter_ids(self, filters: Filters) -> np.ndarray:
        where: list[str] = ["TRUE"]
        args: list[Any] = []
        if filters.organ:
            where.append("p.organ = ANY(%s)")
            args.append(list(filters.organ))
        if filters.doc_type:
            where.append("p.doc_type = ANY(%s)")
            args.append(list(filters.doc_type))
        if filters.date_from:
            where.append("p.date >= %s")
            args.append(filters.date_from)
        if filters.date_to:
            where.append("p.date <= %s")
            args.append(filters.date_to)
        if filters.case_number:
            number = normalize_case_number(filters.case_number)
            where.append("(p.case_numbers ? %s OR p.doc_case_numbers ? %s)")
            args += [number, number]
        if filters.decisions_only:
            where.append("p.is_decision = 1")
        if filters.person or filters.party:
            key = person_key(filters.person) if filters.person else None
            party = party_of(filters.party) if filters.party else None
            where.append(
                "p.id IN (SELECT s.id FROM sok_members x JOIN sok_passages q ON q.id = x.passage_id"
                " JOIN sok_passages s ON s.file_id = q.file_id AND s.document_id IS NOT DISTINCT FROM q.document_id"
                " AND (s.id = q.id OR (q.item IS NOT NULL AND s.item = q.item))"
                " WHERE (%s::text IS NULL OR x.person_key = %s) AND (%s::text IS NULL OR x.party = %s))")
            args += [key, key, party, party]
        rows = self.db.execute(f"SELECT p.id FROM sok_passages p WHERE {' AND '.join(where)} ORDER BY p.id", args)
        return np.fromiter((r["id"] for r in rows), dtype=np.int64)

    # --- lexical ---------------------------------------------------------------------------
    def _doc_count(self) -> int:
        return int(self._stats.get("bm25_n", 0))

    def _dfs(self, terms: Sequence[str]) -> dict[str, int]:
        rows = self._rows("SELECT lexeme, df FROM sok_lexemes WHERE lexeme = ANY(%s)", (list(set(terms)),))
        return {r["lexeme"]: int(r["df"]) for r in rows}

    def idf(self, term: str) -> float:
        """The weight relevance.QueryTerms gives a term, as the embedded backend computes it."""
        return _term_idf(term, *self.bm25_stats([term])[::2])

    def bm25_stats(self, terms: Sequence[str]) -> tuple[int, float, dict[str, int]]:
        """(passages, their total length in terms, document frequency of each
        term): what BM25 needs from the corpus, summable over shards."""
        n = self._doc_count()
        return n, n * float(self._stats.get("bm25_avgdl", 1.0)), self._dfs(terms) if n else {}

    def lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        terms = [t for t in tokenize(query) if len(t) <= _MAX_TERM_CHARS]
        return self.bm25(terms, *self.bm25_stats(terms), k=k, allowed=allowed) if terms else []

    def bm25(self, terms: Sequence[str], n: int, total: float, dfs: dict[str, int], k: int,
             allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k BM25 over this database's passages with the corpus statistics
        given (this database's own, or a sharded corpus's sums)."""
        known = [t for t in terms if dfs.get(t)]
        if not known or k <= 0 or not n or (allowed is not None and not len(allowed)):
            return []
        idfs = [float(np.log(1 + (n - dfs[t] + 0.5) / (dfs[t] + 0.5))) for t in known]
        only = "AND p.id = ANY(%(allowed)s)" if allowed is not None else ""
        rows = self._rows(
            f"""
            WITH q(term, idf) AS (SELECT * FROM unnest(%(terms)s::text[], %(idfs)s::float8[]))
            SELECT p.id, sum(q.idf * x.tf * {K1 + 1} / (x.tf + {K1} * ({1 - B} + {B} * p.dl / %(avgdl)s))) AS score
            FROM sok_passages p
            CROSS JOIN LATERAL (SELECT u.lexeme, array_length(u.positions, 1) AS tf FROM unnest(p.lex) u) x
            JOIN q ON q.term = x.lexeme
            WHERE p.lex @@ %(tsquery)s::tsquery {only}
            GROUP BY p.id ORDER BY score DESC, p.id LIMIT %(k)s
            """,
            {"terms": known, "idfs": idfs, "avgdl": total / n, "tsquery": " | ".join(_quote(t) for t in set(known)),
             "k": k, "allowed": _ids(allowed) if allowed is not None else None},
        )
        return [(int(r["id"]), float(r["score"])) for r in rows]

    # --- dense -----------------------------------------------------------------------------
    def _nearest(self, table: str, key: str, qvec: np.ndarray, k: int, allowed: np.ndarray | None
                 ) -> list[tuple[int, float]]:
        """(key, cosine) nearest first: HNSW with iterative scans, so a filter
        cannot leave fewer than k (the planner may scan a small allowed set
        exactly instead)."""
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        only = f"WHERE {key} = ANY(%(allowed)s)" if allowed is not None else ""
        args = {"q": _vector(qvec), "k": k, "allowed": _ids(allowed) if allowed is not None else None}
        self.db.execute("SET LOCAL hnsw.iterative_scan = strict_order")
        self.db.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(1000, k))}")
        rows = self._rows(f"SELECT {key} AS id, 1 - (embedding <=> %(q)s::vector) AS cosine FROM {table} {only}"
                          f" ORDER BY embedding <=> %(q)s::vector LIMIT %(k)s", args)
        return [(int(r["id"]), float(r["cosine"])) for r in rows]

    def dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self._nearest("sok_passages", "id", qvec, k, allowed)

    def windows(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(passage id, cosine of its best sentence window), best first."""
        best: dict[int, float] = {}
        for pid, score in self._nearest("sok_windows", "passage_id", qvec, k * 4, allowed):
            best.setdefault(pid, score)
        return list(best.items())[:k]

    def _group_max(self, table: str, key: str, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        rows = self._rows(f"SELECT {key} AS id, max(1 - (embedding <=> %s::vector)) AS cosine FROM {table}"
                          f" WHERE {key} = ANY(%s) GROUP BY {key}", (_vector(qvec), _ids(ids)))
        found = {int(r["id"]): float(r["cosine"]) for r in rows}
        return np.array([found.get(int(i), -1.0) for i in np.asarray(ids).tolist()], dtype=np.float32)

    def cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self._group_max("sok_passages", "id", qvec, ids)

    def window_cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self._group_max("sok_windows", "passage_id", qvec, ids)

    def each_window_cosine(self, qvec: np.ndarray, pid: int) -> np.ndarray:
        rows = self._rows("SELECT 1 - (embedding <=> %s::vector) AS cosine FROM sok_windows WHERE passage_id = %s"
                          " ORDER BY ordinal", (_vector(qvec), int(pid)))
        return np.array([float(r["cosine"]) for r in rows], dtype=np.float32)

    def vector_count(self) -> int:
        return int(self._rows("SELECT count(embedding) AS n FROM sok_passages")[0]["n"])

    # --- rows ------------------------------------------------------------------------------
    def passages(self, ids: Sequence[int]) -> dict[int, Any]:
        if not len(ids):
            return {}
        cols = ", ".join("p.case_numbers::text AS case_numbers" if c == "case_numbers" else f"p.{c}"
                         for c in _PASSAGE_COLUMNS)  # JSON as text, as the embedded store gives it
        rows = self._rows(f"SELECT {cols} FROM sok_passages p WHERE p.id = ANY(%s)", (_ids(ids),))
        return {int(r["id"]): r for r in rows}

    def decisions_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for r in self._rows(
                "SELECT p.id AS source, d.id AS decision FROM sok_passages p JOIN sok_passages d"
                " ON d.file_id = p.file_id AND d.document_id IS NOT DISTINCT FROM p.document_id AND d.item = p.item"
                " AND d.is_decision = 1 AND d.id != p.id WHERE p.item IS NOT NULL AND p.id = ANY(%s)"
                " ORDER BY p.id, d.ordinal", (_ids(ids),)):
            out.setdefault(int(r["source"]), []).append(int(r["decision"]))
        return out

    def item_rows(self, ids: Sequence[int]) -> list[Any]:
        return self._rows(
            "SELECT p.id AS source, s.id AS passage_id, s.text, s.is_decision, x.kind, x.person, x.party,"
            " x.stance, x.text AS said FROM sok_passages p JOIN sok_passages s ON s.file_id = p.file_id"
            " AND s.document_id IS NOT DISTINCT FROM p.document_id AND s.item = p.item"
            " LEFT JOIN sok_positions x ON x.passage_id = s.id WHERE p.item IS NOT NULL AND p.id = ANY(%s)"
            " ORDER BY p.id, s.ordinal, x.ordinal", (_ids(ids),))

    def case_rows(self, number: str) -> list[Any]:
        return self._rows(
            """
            SELECT p.document_id AS doc, p.date, p.doc_type, p.organ, p.title, p.relpath, p.path, p.item,
                   p.item_title, p.page_start, p.page_end, p.is_decision, p.text, p.ordinal,
                   (p.case_numbers ? %(n)s)::int AS in_passage
            FROM sok_passages p
            WHERE p.document_id IS NOT NULL AND (p.doc_case_numbers ? %(n)s OR p.case_numbers ? %(n)s
               OR (p.item IS NOT NULL AND EXISTS (SELECT 1 FROM sok_passages q WHERE q.document_id = p.document_id
                   AND q.item = p.item AND q.case_numbers ? %(n)s)))
            ORDER BY p.document_id, p.ordinal
            """, {"n": number})

    def document_case_numbers(self) -> Iterator[list[str]]:
        for r in self._rows("SELECT DISTINCT ON (document_id) doc_case_numbers::text AS numbers FROM sok_passages"
                            " WHERE document_id IS NOT NULL ORDER BY document_id"):
            yield json.loads(r["numbers"])

    def close(self) -> None:
        self.db.close()


# --- the writer: an embedded index run, published ---------------------------------------

def _content_key(row: dict[str, Any], vector: bytes, windows: bytes, positions: list[Any], doc_cases: str) -> str:
    h = hashlib.sha1()
    for value in (json.dumps(row, sort_keys=True, default=str), vector, windows,
                  json.dumps(positions, default=str), doc_cases):
        h.update(value if isinstance(value, bytes) else value.encode())
        h.update(b"\0")
    return h.hexdigest()


def _copy_in(db: Any, write: list[int], rows: dict[int, dict[str, Any]], vectors: dict[int, np.ndarray],
             windows: dict[int, list[tuple[int, np.ndarray]]], positions: dict[int, list[dict[str, Any]]],
             doc_cases: dict[int, str], keys: dict[int, str]) -> None:
    """The passages `write` names, with their windows, positions and members,
    through COPY (one stream per table, values as PostgreSQL's own text input
    for vector, tsvector and jsonb), not a round trip per row."""
    cols = [*_PASSAGE_COLUMNS, "doc_case_numbers", "lex", "dl", "embedding", "content_key"]
    with db.cursor() as cur:
        with cur.copy(f"COPY sok_passages ({', '.join(cols)}) FROM STDIN") as copy:
            for pid in write:
                row = rows[pid]
                text = locating_text(row["title"], row["organ"], row["item_title"], json.loads(row["heading_path"]),
                                     row["text"])
                lex, dl = tsvector_literal(tokenize(text))
                vec = vectors.get(pid)
                copy.write_row([*(row[c] for c in _PASSAGE_COLUMNS), doc_cases.get(row["document_id"], "[]"), lex, dl,
                                _vector(vec) if vec is not None else None, keys[pid]])
        with cur.copy("COPY sok_windows (passage_id, ordinal, embedding) FROM STDIN") as copy:
            for pid in write:
                for ordinal, vec in windows.get(pid, []):
                    copy.write_row((pid, ordinal, _vector(vec)))
        fields = ("passage_id", "ordinal", "kind", "person", "person_key", "party", "stance", "joined", "text")
        with cur.copy(f"COPY sok_positions ({', '.join(fields)}) FROM STDIN") as copy:
            for pid in write:
                for p in positions.get(pid, []):
                    copy.write_row([p[f] for f in fields])
        with cur.copy("COPY sok_members (passage_id, person_key, party) FROM STDIN") as copy:
            for pid in write:
                said = positions.get(pid, [])
                members = {(p["person_key"], p["party"]) for p in said}
                members |= {(person_key(name), party) for p in said for name, party in json.loads(p["joined"])}
                for key, party in sorted(members):
                    copy.write_row((pid, key, party))


@dataclass
class _Run:
    """One index run as the folder holds it: what `publish` writes."""

    rows: dict[int, dict[str, Any]]
    vectors: dict[int, np.ndarray]
    windows: dict[int, list[tuple[int, np.ndarray]]]
    positions: dict[int, list[dict[str, Any]]]
    doc_cases: dict[int, str]
    meta: dict[str, str]
    dim: int


def _read_run(index_dir: Path) -> _Run:
    from sok.store.db import Store

    store = Store(index_dir)
    try:
        model, dim = store.get_meta("model_id"), int(store.get_meta("dim") or 0)
        if not model or not dim:
            raise BackendError("Indexet har inga vektorer att publicera. Kör  sok index MAPP  först.")
        ids = [int(i) for i in store.passage_ids(Filters()).tolist()]
        rows = {pid: dict(r) for pid, r in store.passages(ids).items()}
        pids, pvecs = store.passage_vectors(model, dim)
        wids, wvecs = store.window_vectors(model, dim, CHUNK.max_windows)
        windows: dict[int, list[tuple[int, np.ndarray]]] = {}
        for wid, vec in zip(wids.tolist(), wvecs):
            windows.setdefault(wid // CHUNK.max_windows, []).append((wid % CHUNK.max_windows, vec))
        return _Run(rows, {int(i): v for i, v in zip(pids.tolist(), pvecs)}, windows, store.positions_by_passage(),
                    {doc: json.dumps(numbers) for doc, numbers in store.documents_case_numbers()},
                    {**store.meta_items(), "generation": str(store.generation)}, dim)
    finally:
        store.close()


def _stamp(index_dir: Path, shard: tuple[int, int] | None) -> str:
    """Which run of which index folder, and which part of it, a server holds."""
    from sok.store.db import Store

    store = Store(index_dir)
    try:
        return f"{store.get_meta('index_id')}:{store.generation}:{'%d/%d' % shard if shard else 'alla'}"
    finally:
        store.close()


def publish(index_dir: Path, url: str, shard: tuple[int, int] | None = None,
            load: Callable[[], _Run] | None = None) -> dict[str, int]:
    """Bring the database to the index folder's state: passages that are new
    or changed (text, metadata, vectors, positions) are written, those gone
    are deleted, in one transaction that also moves the generation. A server
    that already holds this run is left as it is without reading the folder.
    With `shard` (i, n), only the passages whose municipality `shard_of`
    puts on shard i of n; `load` reads the run (once, for all shards).
    Returns counts of written, deleted and kept passages."""
    stamp = _stamp(index_dir, shard)
    db = _connect(url, autocommit=False, target_session_attrs="read-write")  # the primary, of the URL's hosts
    try:
        if db.execute("SELECT to_regclass('sok_meta') AS t").fetchone()["t"] is not None:
            held = db.execute("SELECT value FROM sok_meta WHERE key = 'published'").fetchone()
            if held and held["value"] == stamp:  # this run, already here
                return {"written": 0, "deleted": 0,
                        "kept": int(db.execute("SELECT count(*) AS n FROM sok_passages").fetchone()["n"])}
        run = (load or (lambda: _read_run(index_dir)))()
        rows = run.rows
        if shard is not None:
            rows = {pid: r for pid, r in rows.items() if shard_of(r["municipality"], shard[1]) == shard[0]}
        keys = {}
        for pid, row in rows.items():
            vec = run.vectors.get(pid)
            keys[pid] = _content_key(row, vec.tobytes() if vec is not None else b"",
                                     b"".join(v.tobytes() for _, v in run.windows.get(pid, [])),
                                     run.positions.get(pid, []), run.doc_cases.get(row["document_id"], "[]"))
        if db.execute("SELECT to_regclass('sok_meta') AS t").fetchone()["t"] is not None:
            old_dim = db.execute("SELECT value FROM sok_meta WHERE key = 'dim'").fetchone()
            if old_dim and int(old_dim["value"]) != run.dim:  # another model: start over
                db.execute("DROP TABLE IF EXISTS sok_members, sok_positions, sok_windows, sok_lexemes, sok_passages,"
                           " sok_meta")
        db.execute("SELECT pg_advisory_xact_lock(7105)")  # one publisher at a time
        if db.execute("SELECT to_regclass('sok_passages') AS t").fetchone()["t"] is None:
            db.execute(_SCHEMA.format(dim=run.dim))
        have = {int(r["id"]): r["content_key"] for r in db.execute("SELECT id, content_key FROM sok_passages")}
        gone = [pid for pid in have if pid not in keys]
        write = [pid for pid, key in keys.items() if have.get(pid) != key]
        db.execute("DELETE FROM sok_passages WHERE id = ANY(%s)", (gone + [p for p in write if p in have],))
        _copy_in(db, write, rows, run.vectors, run.windows, run.positions, run.doc_cases, keys)
        if gone or write:  # document frequencies and the mean length, for BM25 and idf
            db.execute("DELETE FROM sok_lexemes")  # not TRUNCATE: its lock would wait for every open reader
            db.execute("INSERT INTO sok_lexemes SELECT word, ndoc FROM ts_stat('SELECT lex FROM sok_passages')")
        stats = db.execute("SELECT count(*) AS n, COALESCE(avg(dl), 1) AS avgdl FROM sok_passages").fetchone()
        meta = {**run.meta, "published": stamp, "bm25_n": str(stats["n"]), "bm25_avgdl": str(float(stats["avgdl"]))}
        db.cursor().executemany("INSERT INTO sok_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE"
                                " SET value = EXCLUDED.value", sorted(meta.items()))
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()
    return {"written": len(write), "deleted": len(gone), "kept": len(keys) - len(write)}


# --- several servers: passages partitioned by municipality ------------------------------

def shard_of(municipality: str | None, shards: int) -> int:
    """The shard that holds a municipality's passages: a stable hash, so
    every writer and reader agrees without a routing table."""
    return zlib.crc32((municipality or "").encode()) % shards


def shard_urls(url: str) -> list[str]:
    """`postgresql://a/db,postgresql://b/db`: one URL per shard, in shard order.
    A comma inside one URL (`postgresql://primary,replica/db`, libpq's host
    list) stays: shards are split only where a new URL begins."""
    return [u.strip() for u in re.split(r",(?=\s*postgres(?:ql)?://)", url) if u.strip()]


def publish_all(index_dir: Path, url: str) -> dict[str, int]:
    """`publish` to one server, or to each shard its municipalities."""
    urls = shard_urls(url)
    if len(urls) == 1:
        return publish(index_dir, urls[0])
    load = functools.lru_cache(maxsize=1)(lambda: _read_run(index_dir))  # the folder read once, not per shard
    total: dict[str, int] = {}
    for i, shard in enumerate(urls):
        for key, value in publish(index_dir, shard, (i, len(urls)), load).items():
            total[key] = total.get(key, 0) + value
    return total


class ShardedBackend:
    """Passages partitioned by municipality over several PostgreSQL servers.
    Every read goes to every shard with its own LIMIT and the best k are
    merged here; BM25 uses the corpus's statistics summed over the shards, so
    scores are those of one database. A shard that cannot be reached stops
    the search with an error that names it, never a silently shorter list."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.shards: list[PostgresBackend] = []
        for i in range(len(self.urls)):
            try:
                self.shards.append(PostgresBackend(self.urls[i]))
            except BackendError as exc:
                raise BackendError(f"Del {i + 1} av {len(self.urls)}: {exc}") from None

    def _each(self, call: Any) -> list[Any]:
        import psycopg

        out = []
        for i, shard in enumerate(self.shards):
            try:
                out.append(call(shard))
            except psycopg.Error as exc:
                where = self.urls[i].split("@")[-1]
                raise BackendError(
                    f"Del {i + 1} av {len(self.shards)} ({where}) svarar inte: {str(exc).strip().splitlines()[0]}. "
                    "Sökningen avbröts i stället för att visa träffar från bara en del av materialet; starta "
                    "den delens server igen.") from None
        return out

    @property
    def generation(self) -> int:
        return min(s.generation for s in self.shards)

    def refresh(self, attempts: int = 100) -> bool:
        """Every shard to its newest snapshot; a publish reaches the shards
        one after another, so wait (briefly) until they agree."""
        before = [s.generation for s in self.shards]
        for _ in range(attempts):
            self._each(lambda s: s.refresh())
            if len({s.generation for s in self.shards}) == 1:
                return [s.generation for s in self.shards] != before
            time.sleep(0.05)
        raise BackendError("Delarna visar olika indexkörningar; en publicering pågår eller avbröts. Kör  sok index  igen.")

    def meta(self, key: str) -> str | None:
        return self.shards[0].meta(key)

    def filter_ids(self, filters: Filters) -> np.ndarray:
        return np.sort(np.concatenate(self._each(lambda s: s.filter_ids(filters))))

    def idf(self, term: str) -> float:
        stats = self._each(lambda s: s.bm25_stats([term]))
        return _term_idf(term, sum(n for n, _, _ in stats), {term: sum(d.get(term, 0) for _, _, d in stats)})

    def lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        terms = [t for t in tokenize(query) if len(t) <= _MAX_TERM_CHARS]
        if not terms:
            return []
        stats = self._each(lambda s: s.bm25_stats(terms))
        n, total = sum(st[0] for st in stats), sum(st[1] for st in stats)
        dfs = {t: sum(st[2].get(t, 0) for st in stats) for t in set(terms)}
        return _best(self._each(lambda s: s.bm25(terms, n, total, dfs, k, allowed)), k)

    def dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return _best(self._each(lambda s: s.dense(qvec, k, allowed)), k)

    def windows(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return _best(self._each(lambda s: s.windows(qvec, k, allowed)), k)

    def cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return np.max(self._each(lambda s: s.cosines(qvec, ids)), axis=0)

    def window_cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return np.max(self._each(lambda s: s.window_cosines(qvec, ids)), axis=0)

    def each_window_cosine(self, qvec: np.ndarray, pid: int) -> np.ndarray:
        return max(self._each(lambda s: s.each_window_cosine(qvec, pid)), key=len)

    def vector_count(self) -> int:
        return sum(self._each(lambda s: s.vector_count()))

    def passages(self, ids: Sequence[int]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for part in self._each(lambda s: s.passages(ids)):
            out.update(part)
        return out

    def decisions_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for part in self._each(lambda s: s.decisions_of(ids)):  # a § lies in one file, so on one shard
            out.update(part)
        return out

    def item_rows(self, ids: Sequence[int]) -> list[Any]:
        return [row for part in self._each(lambda s: s.item_rows(ids)) for row in part]

    def case_rows(self, number: str) -> list[Any]:
        rows = [row for part in self._each(lambda s: s.case_rows(number)) for row in part]
        return sorted(rows, key=lambda r: (r["doc"], r["ordinal"]))

    def document_case_numbers(self) -> Iterator[list[str]]:
        for part in self._each(lambda s: list(s.document_case_numbers())):
            yield from part

    def close(self) -> None:
        for shard in self.shards:
            shard.close()


def _best(parts: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """The k best of the shards' own top-k lists (each shard's LIMIT is k)."""
    return sorted((hit for part in parts for hit in part), key=lambda h: (-h[1], h[0]))[:k]
