"""The SQLite store: files, pages, passages, the embedding cache and index
metadata. It is the source of truth; the FAISS and BM25 files are derived
from it and stamped with its generation number, so an interrupted run can
never leave a search reading half an update."""

from __future__ import annotations

import errno
import itertools
import json
import secrets
import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote

import numpy as np

from sok.ingest.linking import DocRef, handled_at
from sok.ingest.politics import party_of, person_key
from sok.language import normalize_case_number
from sok.records import ExtractedFile, Filters, Passage, Position

SCHEMA_VERSION = 7  # v2: documents and passage metadata; v3: meetings linked by case, OCR, text quality; v4: cache in its own file; v5: sentence windows; v6: personal data per page; v7: members' positions

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    relpath TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    n_pages INTEGER NOT NULL,
    indexed_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS pages (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    text TEXT NOT NULL,
    clean TEXT NOT NULL,
    is_empty INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT 'text',  -- 'text' (the PDF's text layer) or 'ocr'
    quality TEXT NOT NULL DEFAULT '{}',  -- JSON: unknown-word share, broken-ligature repairs
    personal TEXT NOT NULL DEFAULT '{}',  -- JSON: personnummer found (masked unless shown), marked secret
    PRIMARY KEY (file_id, number)
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    title TEXT NOT NULL,
    doc_type TEXT,
    organ TEXT,  -- stated_organ, else the organ of the meeting that handled it
    stated_organ TEXT,
    municipality TEXT,
    meeting_date TEXT,  -- as stated in the document
    document_date TEXT,
    handled_date TEXT,  -- the meeting that handled it, found through a case number (sok.ingest.linking)
    handled_case TEXT,
    date TEXT,  -- meeting_date, else handled_date, else document_date
    case_numbers TEXT NOT NULL,
    presenters TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file_id);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    document_id INTEGER REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,  -- of the embedder's input (structure.embedding_input), the cache key
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    heading_path TEXT NOT NULL,
    item TEXT,
    item_title TEXT,
    part TEXT,
    is_decision INTEGER NOT NULL DEFAULT 0,
    dates TEXT NOT NULL DEFAULT '[]',
    case_numbers TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS passages_file ON passages(file_id);
CREATE INDEX IF NOT EXISTS passages_document ON passages(document_id);
CREATE TABLE IF NOT EXISTS windows (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text_hash TEXT NOT NULL,  -- of the embedder's input (structure.window_inputs), the cache key
    PRIMARY KEY (passage_id, ordinal)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS positions (  -- yrkanden, reservationer, protokollsanteckningar (ingest.politics)
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    kind TEXT NOT NULL,
    person TEXT NOT NULL,
    person_key TEXT NOT NULL,
    party TEXT NOT NULL,
    stance TEXT,
    joined TEXT NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    PRIMARY KEY (passage_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS positions_person ON positions(person_key);
CREATE INDEX IF NOT EXISTS positions_party ON positions(party);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""


# The embedding cache lives in its own file with its own connection, so that it
# commits batch by batch while `sok index` holds one long transaction on the
# index: a run killed after hours keeps every vector it computed, and the run's
# files, documents and passages still land all together or not at all.
_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,  -- of the embedder's input (structure.embedding_input), the cache key
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
);
"""


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass
class IndexStatus:
    """What `sok status` reports (as text or JSON), read in one place."""

    index: str
    files: int
    pages: int
    empty_pages: int
    ocr_pages: int
    repaired_pages: int
    documents: int
    passages: int
    windows: int
    model: str | None
    route: str | None
    size_bytes: int
    generation: int
    pipeline_version: str | None
    document_types: dict[str, int]
    organs: dict[str, int]
    empty_page_list: list[tuple[str, int, bool]]  # (file, page, read by OCR)
    repaired_page_list: list[tuple[str, int, int]]  # (file, page, words repaired)
    last_run: dict[str, Any] | None
    personal_data: str  # "masked" (the default) or "shown" (sok index --show-personal-data)
    personal_page_list: list[tuple[str, int, int, bool]]  # (file, page, personnummer, marked secret)


class BackendError(Exception):
    """A server backend (store/postgres.py) that cannot be reached or read;
    the message is Swedish and says what to do."""


class StoreError(Exception):
    """An index this version cannot read; the message says what to do, in Swedish."""


def _connect(path: Path, writer: bool) -> sqlite3.Connection:
    """The writer opens for writing (WAL, so readers go on during a run). A
    reader opens read-only and changes nothing on disk, so an index on a
    read-only mount or a shared drive can be searched; where even the WAL's
    shared-memory file cannot be made there, it reads the file as immutable."""
    if writer:
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        return db
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:  # no -shm beside a WAL database on a read-only mount
        db.close()
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?immutable=1", uri=True, timeout=30,
                             check_same_thread=False)
    return db


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1_000_000
    except OSError:
        return False


def problem_message(exc: BaseException, path: Path | None = None) -> str | None:
    """A sentence for a storage failure that says what happened and what to do
    (None for anything else): the disk is full, the index is read-only, or a
    database file is damaged. The previous index is intact in every case,
    since a run lands in one transaction."""
    where = path or getattr(exc, "filename", None) or "indexmappen"
    text = str(exc).lower()
    # SQLite often says only "disk I/O error" when it cannot grow its WAL on a full disk
    full = "disk i/o error" in text and path is not None and _nearly_full(Path(path).parent)
    if getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in text or "no space left" in text or full:
        return (f"Disken är full ({where}). Inget gick förlorat: det tidigare indexet är orört och går att söka i. "
                "Frigör utrymme och kör kommandot igen.")
    if getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text:
        return (f"Ingen skrivrätt till {where}: indexet kan sökas men inte uppdateras här. "
                "Kör  sok index  där indexmappen är skrivbar, eller välj ett annat --index.")
    if isinstance(exc, sqlite3.DatabaseError):
        return (f"Indexfilen {where} kan inte läsas ({exc}). Kör  sok doctor  för att se vad som kan lagas; "
                "hjälper inte det, radera indexmappen och kör  sok index MAPP  igen.")
    return None


class Store:
    def __init__(self, index_dir: Path, writer: bool = False) -> None:
        """A reader refuses an index of an older format; the writer (`sok index`)
        migrates it by re-reading every file, while the embedding cache is kept.
        A damaged or unreadable database is a StoreError that says what to do."""
        self.dir = Path(index_dir)
        if not writer and not (self.dir / "sok.sqlite").is_file():
            raise StoreError(f"Det finns inget index i {self.dir}. Skapa det med  sok index MAPP")
        for name, opener in (("sok.sqlite", self._open_store), ("embeddings.sqlite", self._open_cache)):
            try:
                opener(writer)
            except (sqlite3.DatabaseError, StoreError) as exc:
                self.close()
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(problem_message(exc, self.dir / name)) from None

    def _open_store(self, writer: bool) -> None:
        if writer:
            self.dir.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the app (Streamlit) reruns its script on new threads
        # with one cached Searcher; callers serialise use of a Store themselves.
        self.db = _connect(self.dir / "sok.sqlite", writer)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys=ON")
        # a member's key in SQL too, so a filter matches the members who joined a yrkande (kept as written)
        self.db.create_function("person_key", 1, person_key, deterministic=True)
        if writer:
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        version = self.get_meta("schema_version")
        if version is not None and version != str(SCHEMA_VERSION):
            if not writer:
                raise StoreError(f"Indexet i {self.dir} har ett äldre format. Kör  sok index  för att uppdatera det.")
            self.db.executescript(
                "DROP TABLE IF EXISTS positions; DROP TABLE IF EXISTS windows; DROP TABLE IF EXISTS passages; DROP TABLE IF EXISTS documents; DROP TABLE IF EXISTS pages;"
                "DROP TABLE IF EXISTS files; DELETE FROM meta WHERE key = 'pipeline_version';"
            )
        if not writer:
            if version is None:
                raise StoreError(f"Indexet i {self.dir} är tomt eller ofullständigt. Kör  sok index MAPP")
            return
        self.db.executescript(_SCHEMA)
        if version != str(SCHEMA_VERSION):
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        if self.get_meta("index_id") is None:
            # names this store in the derived files' stamp: a store made anew
            # restarts its generations and must not inherit the old files
            self.set_meta("index_id", secrets.token_hex(8))
        self.db.commit()

    def _open_cache(self, writer: bool) -> None:
        path = self.dir / "embeddings.sqlite"
        if writer or path.is_file():
            self.cache = _connect(path, writer)
        else:  # a reader of an index whose cache is gone: the FAISS files still serve, and nothing is written
            self.cache = sqlite3.connect(":memory:", check_same_thread=False)
        if writer or not path.is_file():
            self.cache.executescript(_CACHE_SCHEMA)
        self.cache.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a damaged file fails here, not later
        if writer:
            self._move_old_cache()

    def _move_old_cache(self) -> None:
        """Indexes made before the cache had its own file keep their vectors."""
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='embeddings'").fetchone():
            return
        rows = self.db.execute("SELECT model, text_hash, vector FROM embeddings")
        while batch := rows.fetchmany(5000):
            self.cache.executemany("INSERT OR IGNORE INTO embeddings(model, text_hash, vector) VALUES (?,?,?)",
                                   [tuple(r) for r in batch])
        self.cache.commit()
        self.db.execute("DROP TABLE embeddings")
        self.db.commit()

    def close(self) -> None:
        for name in ("db", "cache"):  # either may be missing when opening failed
            if (db := getattr(self, name, None)) is not None:
                db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything inside lands together or not at all."""
        try:
            self.db.execute("BEGIN")
            yield self.db
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    # --- metadata -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    # --- files ----------------------------------------------------------------------
    def files_under(self, root: Path) -> dict[str, sqlite3.Row]:
        """Indexed files that were found under `root`, by absolute path."""
        rows = self.db.execute("SELECT id, path, sha256 FROM files WHERE root=?", (str(root),))
        return {r["path"]: r for r in rows}

    def add_file(self, root: Path, f: ExtractedFile, passages: list[Passage], hashes: list[str],
                 window_hashes: list[list[str]] | None = None) -> None:
        """Insert one extracted file with its logical documents, and each
        passage's window hashes; call inside `transaction()`."""
        cur = self.db.execute(
            "INSERT INTO files(path, root, relpath, sha256, size, kind, title, date, n_pages)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (f.path, str(root), f.relpath, f.sha256, f.size, f.kind, f.title, f.date, len(f.pages)),
        )
        file_id = cur.lastrowid
        self.db.executemany(
            "INSERT INTO pages(file_id, number, text, clean, is_empty, source, quality, personal)"
            " VALUES (?,?,?,?,?,?,?,?)",
            [(file_id, p.number, p.text, p.clean, int(p.is_empty or p.ocr), "ocr" if p.ocr else "text",
              _json({"repaired": p.repaired} if p.repaired else {}),
              _json({k: v for k, v in (("personnummer", p.personnummer), ("sekretess", p.secret)) if v}))
             for p in f.pages],
        )
        doc_ids = []
        for i, d in enumerate(f.documents):
            cur = self.db.execute(
                "INSERT INTO documents(file_id, ordinal, title, doc_type, organ, stated_organ, municipality, meeting_date,"
                " document_date, date, case_numbers, presenters, page_start, page_end) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (file_id, i, d.title, d.doc_type, d.organ, d.organ, d.municipality, d.meeting_date, d.document_date,
                 d.meeting_date or d.document_date, _json(d.case_numbers), _json(d.presenters), d.page_start, d.page_end),
            )
            doc_ids.append(cur.lastrowid)
        for i, (p, h) in enumerate(zip(passages, hashes)):
            cur = self.db.execute(
                "INSERT INTO passages(file_id, document_id, ordinal, text, text_hash, page_start, page_end, char_start,"
                " char_end, heading_path, item, item_title, part, is_decision, dates, case_numbers)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (file_id, doc_ids[p.document] if doc_ids else None, p.ordinal, p.text, h, p.page_start, p.page_end,
                 p.char_start, p.char_end, _json(p.heading_path), p.item, p.item_title, p.part, int(p.is_decision),
                 _json(p.dates), _json(p.case_numbers)),
            )
            self._insert_positions(cur.lastrowid or 0, p.positions)
            if window_hashes:
                self.db.executemany("INSERT INTO windows(passage_id, ordinal, text_hash) VALUES (?,?,?)",
                                    [(cur.lastrowid, j, wh) for j, wh in enumerate(window_hashes[i])])

    def _insert_positions(self, passage_id: int, positions: list[Position]) -> None:
        if positions:
            self.db.executemany(
                "INSERT INTO positions(passage_id, ordinal, kind, person, person_key, party, stance, joined, text)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [(passage_id, j, x.kind, x.person, x.person_key, x.party, x.stance, _json(x.joined), x.text)
                 for j, x in enumerate(positions)])

    def refresh_positions(self, read: Callable[[list[str]], list[list[Position]]]) -> int:
        """Every passage's positions read again from its stored text, file by
        file (`read` gets one file's passage texts in order): a new reading of
        the minutes (omröstningar, say) reaches an existing index without
        extracting, cleaning or embedding anything again. Returns the number
        of passages read."""
        read_count = 0
        with self.transaction():
            self.db.execute("DELETE FROM positions")
            # one file's passages in memory at a time, not the whole index's text
            rows = self.db.execute("SELECT file_id, id, text FROM passages ORDER BY file_id, ordinal")
            for _, group in itertools.groupby(rows, key=lambda r: r["file_id"]):
                passages = list(group)
                for r, found in zip(passages, read([r["text"] for r in passages])):
                    self._insert_positions(r["id"], found)
                read_count += len(passages)
        return read_count

    def delete_files(self, file_ids: Iterable[int]) -> None:
        self.db.executemany("DELETE FROM files WHERE id=?", [(i,) for i in file_ids])

    def link_meetings(self) -> int:
        """Recompute, over the whole index, the meeting that handled each document
        that does not state one (sok.ingest.linking); call inside `transaction()` after
        files change, since a protokoll may arrive after its tjänsteskrivelse.
        Returns the number of documents linked."""
        rows = self.db.execute(
            "SELECT id, doc_type, stated_organ, meeting_date, document_date, case_numbers FROM documents"
        ).fetchall()
        refs = [DocRef(r["id"], r["doc_type"], r["stated_organ"], r["meeting_date"], r["document_date"],
                       tuple(json.loads(r["case_numbers"]))) for r in rows]
        links = handled_at(refs)
        self.db.execute("UPDATE documents SET handled_date=NULL, handled_case=NULL, organ=stated_organ,"
                        " date=COALESCE(meeting_date, document_date)")
        self.db.executemany(
            "UPDATE documents SET handled_date=?, handled_case=?, organ=COALESCE(stated_organ, ?),"
            " date=COALESCE(meeting_date, ?, document_date) WHERE id=?",
            [(h.date, h.case_number, h.organ, h.date, key) for key, h in links.items()],
        )
        return len(links)

    # --- embedding cache ------------------------------------------------------------
    def cached_hashes(self, model: str, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            q = f"SELECT text_hash FROM embeddings WHERE model=? AND text_hash IN ({','.join('?' * len(part))})"
            found.update(r[0] for r in self.cache.execute(q, [model, *part]))
        return found

    def put_vectors(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        """Cache vectors and commit at once: an interrupted run keeps what it embedded."""
        self.cache.executemany(
            "INSERT OR REPLACE INTO embeddings(model, text_hash, vector) VALUES (?,?,?)",
            [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors)],
        )
        self.cache.commit()

    def files_lacking_vectors(self, model: str) -> set[int]:
        """Files with a passage or window whose vector the cache lacks (its file
        was deleted or replaced): the writer reads them again, so no passage
        silently drops out of dense search."""
        rows = self.db.execute("SELECT file_id, text_hash FROM passages UNION ALL "
                               "SELECT p.file_id, w.text_hash FROM windows w JOIN passages p ON p.id = w.passage_id"
                               ).fetchall()
        cached = self.cached_hashes(model, (r[1] for r in rows))
        return {r[0] for r in rows if r[1] not in cached}

    def passage_vectors(self, model: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, vectors) of every passage with a cached vector, in id order."""
        return self._vectors(model, dim, "SELECT id, text_hash FROM passages ORDER BY id")

    def window_vectors(self, model: str, dim: int, per_passage: int) -> tuple[np.ndarray, np.ndarray]:
        """(window ids, vectors) of every window with a cached vector; a window's
        id is its passage id * per_passage + its ordinal."""
        return self._vectors(model, dim, "SELECT passage_id * ? + ordinal, text_hash FROM windows"
                             " ORDER BY passage_id, ordinal", (per_passage,))

    def _vectors(self, model: str, dim: int, sql: str, args: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cached vectors) of the (id, text_hash) rows `sql` selects, filled
        into one preallocated array (no second copy at a million passages)."""
        rows = self.db.execute(sql, args).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.zeros((len(rows), dim), dtype=np.float32)
        found = np.zeros(len(rows), dtype=bool)
        where: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            where.setdefault(r[1], []).append(i)
        hashes = list(where)
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            q = f"SELECT text_hash, vector FROM embeddings WHERE model=? AND text_hash IN ({','.join('?' * len(part))})"
            for h, blob in self.cache.execute(q, [model, *part]):
                rows_of = where[h]
                vecs[rows_of] = np.frombuffer(blob, dtype=np.float32)
                found[rows_of] = True
        return ids[found], vecs[found] if not found.all() else vecs

    def passages(self, ids: list[int]) -> dict[int, sqlite3.Row]:
        """Passage rows with their file's fields, by id."""
        out: dict[int, sqlite3.Row] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            q = (
                "SELECT p.*, f.relpath, f.path, COALESCE(d.title, f.title) AS title,"
                " COALESCE(d.date, f.date) AS date, d.organ, d.doc_type, d.municipality, d.handled_case,"
                " EXISTS (SELECT 1 FROM pages g WHERE g.file_id = p.file_id AND g.number BETWEEN p.page_start"
                " AND p.page_end AND g.source = 'ocr') AS ocr,"
                " EXISTS (SELECT 1 FROM pages g WHERE g.file_id = p.file_id AND g.number BETWEEN p.page_start"
                " AND p.page_end AND g.quality != '{}') AS repaired FROM passages p"
                " JOIN files f ON f.id = p.file_id LEFT JOIN documents d ON d.id = p.document_id"
                f" WHERE p.id IN ({','.join('?' * len(part))})"
            )
            out.update({r["id"]: r for r in self.db.execute(q, part)})
        return out

    # --- runs and status ------------------------------------------------------------
    def record_run(self, started: str, finished: str, summary: dict) -> None:
        self.db.execute(
            "INSERT INTO runs(started, finished, summary) VALUES (?,?,?)",
            (started, finished, json.dumps(summary, ensure_ascii=False)),
        )

    def last_run(self) -> dict | None:
        row = self.db.execute("SELECT started, finished, summary FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if not row:
            return None
        return {"started": row[0], "finished": row[1], **json.loads(row[2])}

    def counts(self) -> dict[str, int]:
        one = lambda q: self.db.execute(q).fetchone()[0]  # noqa: E731
        return {
            "files": one("SELECT count(*) FROM files"),
            "pages": one("SELECT count(*) FROM pages"),
            "empty_pages": one("SELECT count(*) FROM pages WHERE is_empty"),
            "ocr_pages": one("SELECT count(*) FROM pages WHERE source = 'ocr'"),
            "repaired_pages": one("SELECT count(*) FROM pages WHERE quality != '{}'"),
            "documents": one("SELECT count(*) FROM documents"),
            "passages": one("SELECT count(*) FROM passages"),
            "windows": one("SELECT count(*) FROM windows"),
        }

    # -- reads for the query side ----------------------------------------------------

    def passage_ids(self, filters: Filters) -> np.ndarray:
        """Ids of the passages that pass the filters (exact: every leg of a
        search keeps to these); with none set, every passage."""
        where: list[str] = []
        args: list[Any] = []
        if filters.organ:
            where.append(f"d.organ IN ({','.join('?' * len(filters.organ))})")
            args += filters.organ
        if filters.doc_type:
            where.append(f"d.doc_type IN ({','.join('?' * len(filters.doc_type))})")
            args += filters.doc_type
        if filters.date_from:
            where.append("COALESCE(d.date, f.date) >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            where.append("COALESCE(d.date, f.date) <= ?")
            args.append(filters.date_to)
        if filters.case_number:
            number = normalize_case_number(filters.case_number)
            where.append("(EXISTS (SELECT 1 FROM json_each(p.case_numbers) WHERE value = ?)"
                         " OR EXISTS (SELECT 1 FROM json_each(d.case_numbers) WHERE value = ?))")
            args += [number, number]
        if filters.decisions_only:
            where.append("p.is_decision = 1")
        if filters.person or filters.party:
            # the §§ (or, outside a §, the passages) where the member or party stated a position or joined one
            key = person_key(filters.person) if filters.person else None
            party = party_of(filters.party) if filters.party else None
            member = "(? IS NULL OR {name} = ?) AND (? IS NULL OR {party} = ?)"
            where.append(
                "p.id IN (SELECT s.id FROM positions x JOIN passages q ON q.id = x.passage_id"
                " JOIN passages s ON s.file_id = q.file_id AND s.document_id IS q.document_id"
                " AND (s.id = q.id OR (q.item IS NOT NULL AND s.item = q.item))"
                f" WHERE ({member.format(name='x.person_key', party='x.party')})"
                " OR EXISTS (SELECT 1 FROM json_each(x.joined) j WHERE "
                + member.format(name="person_key(json_extract(j.value, '$[0]'))", party="json_extract(j.value, '$[1]')")
                + "))")
            args += [key, key, party, party] * 2
        sql = "SELECT p.id FROM passages p JOIN files f ON f.id = p.file_id LEFT JOIN documents d ON d.id = p.document_id"
        rows = self.db.execute(sql + (" WHERE " + " AND ".join(where) if where else ""), args)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def decisions_of(self, ids: list[int]) -> dict[int, list[int]]:
        """For each given passage that belongs to a § (or agenda item), the
        passages of that § in the same file that state its decision, in order."""
        out: dict[int, list[int]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for r in self.db.execute(
                "SELECT p.id AS source, d.id AS decision FROM passages p JOIN passages d ON d.file_id = p.file_id"
                " AND d.document_id IS p.document_id AND d.item = p.item AND d.is_decision = 1 AND d.id != p.id"
                f" WHERE p.item IS NOT NULL AND p.id IN ({','.join('?' * len(part))}) ORDER BY p.id, d.ordinal", part):
                out.setdefault(r["source"], []).append(r["decision"])
        return out

    def item_rows(self, ids: list[int]) -> list[sqlite3.Row]:
        """For each given passage inside a §, every passage of that § (same
        file and document) with its text, decision flag and the members'
        positions recorded in it (one row per position, or one without),
        in order: what the § 's status is read from."""
        out: list[sqlite3.Row] = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out += self.db.execute(
                "SELECT p.id AS source, s.id AS passage_id, s.text, s.is_decision, x.kind, x.person, x.party,"
                " x.stance, x.text AS said"
                " FROM passages p JOIN passages s ON s.file_id = p.file_id AND s.document_id IS p.document_id"
                " AND s.item = p.item LEFT JOIN positions x ON x.passage_id = s.id"
                f" WHERE p.item IS NOT NULL AND p.id IN ({','.join('?' * len(part))})"
                " ORDER BY p.id, s.ordinal, x.ordinal", part).fetchall()
        return out

    def position_rows(self, person_key: str | None = None, party: str | None = None) -> list[sqlite3.Row]:
        """The members' positions stated by one member or party (and every one
        that others joined, which query.politics sorts out by name), each with
        the meeting, § and pages of the passage that records it, oldest first."""
        where, args = [], []
        for column, value in (("person_key", person_key), ("party", party)):
            if value:
                where.append(f"(x.{column} = ? OR x.joined != '[]')")
                args.append(value)
        return self.db.execute(
            f"""
            SELECT x.kind, x.person, x.person_key, x.party, x.stance, x.joined, x.text, p.id AS passage_id,
                   p.item, p.item_title, p.page_start, p.page_end, COALESCE(d.date, f.date) AS date, d.organ,
                   d.doc_type, f.relpath, f.path
            FROM positions x JOIN passages p ON p.id = x.passage_id JOIN files f ON f.id = p.file_id
                 LEFT JOIN documents d ON d.id = p.document_id
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY COALESCE(d.date, f.date), f.relpath, p.ordinal, x.ordinal
            """, args).fetchall()

    def case_rows(self, number: str) -> list[sqlite3.Row]:
        """Passages of the documents and § that name the case `number`
        (normalised), with their document's metadata, in document order: a
        § counts when any of its passages names the case."""
        return self.db.execute(
            """
            SELECT d.id AS doc, d.date, d.doc_type, d.organ, COALESCE(d.title, f.title) AS title, f.relpath, f.path,
                   p.item, p.item_title, p.page_start, p.page_end, p.is_decision, p.text, p.ordinal,
                   EXISTS (SELECT 1 FROM json_each(p.case_numbers) WHERE value = :n) AS in_passage
            FROM passages p JOIN files f ON f.id = p.file_id JOIN documents d ON d.id = p.document_id
            WHERE EXISTS (SELECT 1 FROM json_each(d.case_numbers) WHERE value = :n)
               OR EXISTS (SELECT 1 FROM json_each(p.case_numbers) WHERE value = :n)
               OR (p.item IS NOT NULL AND EXISTS (
                    SELECT 1 FROM passages q WHERE q.document_id = p.document_id AND q.item = p.item
                    AND EXISTS (SELECT 1 FROM json_each(q.case_numbers) WHERE value = :n)))
            ORDER BY d.id, p.ordinal
            """,
            {"n": number},
        ).fetchall()

    def positions_by_passage(self) -> dict[int, list[dict[str, Any]]]:
        """Every stored position, by passage, in order: what a server backend copies."""
        out: dict[int, list[dict[str, Any]]] = {}
        for r in self.db.execute("SELECT * FROM positions ORDER BY passage_id, ordinal"):
            out.setdefault(r["passage_id"], []).append(dict(r))
        return out

    def documents_case_numbers(self) -> Iterator[tuple[int, list[str]]]:
        """(document id, its case numbers) of each logical document."""
        for doc, value in self.db.execute("SELECT id, case_numbers FROM documents"):
            yield doc, json.loads(value)

    def meta_items(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def document_case_numbers(self) -> Iterator[list[str]]:
        """The case numbers of each logical document."""
        for (value,) in self.db.execute("SELECT case_numbers FROM documents"):
            yield json.loads(value)

    def roots(self) -> list[Path]:
        """The folders indexed so far."""
        return [Path(r[0]) for r in self.db.execute("SELECT DISTINCT root FROM files")]

    def roots_of(self, file_ids: Iterable[int]) -> list[Path]:
        """The folders these files were indexed from."""
        wanted = set(file_ids)
        return sorted({Path(r[1]) for r in self.db.execute("SELECT id, root FROM files") if r[0] in wanted})

    def status(self) -> IndexStatus:
        def by(column: str) -> dict[str, int]:
            return dict(self.db.execute(
                f"SELECT COALESCE({column}, 'okänt'), count(*) FROM documents GROUP BY 1 ORDER BY 2 DESC"))

        return IndexStatus(
            index=str(self.dir.resolve()), **self.counts(),
            model=self.get_meta("model_id"), route=self.get_meta("route"),
            size_bytes=sum(p.stat().st_size for p in self.dir.rglob("*") if p.is_file()),
            generation=self.generation, pipeline_version=self.get_meta("pipeline_version"),
            document_types=by("doc_type"), organs=by("organ"),
            empty_page_list=self.empty_pages(), repaired_page_list=self.repaired_pages(),
            last_run=self.last_run(), personal_data=self.get_meta("personal_data") or "masked",
            personal_page_list=self.personal_pages(),
        )

    def empty_pages(self) -> list[tuple[str, int, bool]]:
        """(file, page, read by OCR) for every page without a text layer."""
        rows = self.db.execute(
            "SELECT f.relpath, p.number, p.source = 'ocr' FROM pages p JOIN files f ON f.id = p.file_id"
            " WHERE p.is_empty ORDER BY f.relpath, p.number"
        )
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def repaired_pages(self) -> list[tuple[str, int, int]]:
        """(file, page, words repaired) for pages whose text layer lost ligatures (sok.ingest.textquality)."""
        rows = self.db.execute(
            "SELECT f.relpath, p.number, json_extract(p.quality, '$.repaired') FROM pages p"
            " JOIN files f ON f.id = p.file_id WHERE p.quality != '{}' ORDER BY f.relpath, p.number"
        )
        return [(r[0], r[1], int(r[2] or 0)) for r in rows]

    def personal_pages(self) -> list[tuple[str, int, int, bool]]:
        """(file, page, personnummer, marked secret) for every page with either:
        the clerk's list of what the index withholds or should be checked."""
        rows = self.db.execute(
            "SELECT f.relpath, p.number, json_extract(p.personal, '$.personnummer'),"
            " json_extract(p.personal, '$.sekretess') FROM pages p JOIN files f ON f.id = p.file_id"
            " WHERE p.personal != '{}' ORDER BY f.relpath, p.number"
        )
        return [(r[0], r[1], int(r[2] or 0), bool(r[3])) for r in rows]

    def files_awaiting_ocr(self, root: Path) -> set[str]:
        """Paths of indexed files with pages that have no text layer and were not read by OCR."""
        rows = self.db.execute(
            "SELECT DISTINCT f.path FROM pages p JOIN files f ON f.id = p.file_id"
            " WHERE f.root = ? AND p.is_empty AND p.source != 'ocr'", (str(root),)
        )
        return {r[0] for r in rows}

    # --- derived-index sync -------------------------------------------------------
    # Added for derived.sync_lexical: the persistent lexical index is brought up to
    # date by a diff against these rows instead of being rebuilt from every passage.
    _LEXICAL_SOURCES = (
        "SELECT p.id, p.text_hash, COALESCE(d.title, f.title), d.organ, p.item_title, p.heading_path{text}"
        " FROM passages p JOIN files f ON f.id = p.file_id LEFT JOIN documents d ON d.id = p.document_id"
    )

    def lexical_sources(self, ids: Iterable[int] | None = None, with_text: bool = False) -> Iterator[tuple]:
        """(id, text_hash, title, organ, item_title, heading_path json[, text]) per
        passage, for all passages or the given ids: what a passage's lexical
        entry is made from, without the text unless asked, so diffing a million
        passages reads only short columns."""
        q = self._LEXICAL_SOURCES.format(text=", p.text" if with_text else "")
        if ids is None:
            yield from (tuple(r) for r in self.db.execute(q + " ORDER BY p.id"))
            return
        wanted = [int(i) for i in ids]
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            rows = self.db.execute(q + f" WHERE p.id IN ({','.join('?' * len(part))})", part)
            yield from (tuple(r) for r in rows)
