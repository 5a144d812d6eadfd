"""Read-only access to the index for the app and the file route: a
connection that cannot write (the app never writes to an index that `sok
index` may be updating) and the queries the pages make. With `Store` beside
it, this is the only place in sok that speaks SQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote


class readonly:
    """A read-only connection to the index, closed on exit: the app never
    writes to an index that `sok index` may be updating."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / "sok.sqlite"

    def __enter__(self) -> sqlite3.Connection:
        self.db = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True, timeout=30)
        self.db.row_factory = sqlite3.Row
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def read_meta(index_dir: Path, key: str) -> str | None:
    """One meta value without opening a writer Store (which would create tables)."""
    with readonly(index_dir) as db:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def file_ids(db: sqlite3.Connection) -> dict[str, int]:
    """File id by stored path: links name files by id, never by path."""
    return {r["path"]: r["id"] for r in db.execute("SELECT id, path FROM files")}


def context_passages(db: sqlite3.Connection, passage_id: int, radius: int = 1) -> list[dict[str, Any]]:
    """The passage and its neighbours in the same file (adjacent ordinals)."""
    row = db.execute("SELECT file_id, ordinal FROM passages WHERE id=?", (passage_id,)).fetchone()
    if row is None:
        return []
    rows = db.execute(
        "SELECT id, ordinal, text, page_start, page_end FROM passages WHERE file_id=? AND ordinal BETWEEN ? AND ?"
        " ORDER BY ordinal",
        (row["file_id"], row["ordinal"] - radius, row["ordinal"] + radius),
    )
    return [{**dict(r), "current": r["id"] == passage_id} for r in rows]


def passage_files(db: sqlite3.Connection, passage_ids: list[int]) -> dict[int, int]:
    """File id by passage id, for links to the near-duplicates of a hit."""
    if not passage_ids:
        return {}
    marks = ",".join("?" * len(passage_ids))
    return {r[0]: r[1] for r in db.execute(f"SELECT id, file_id FROM passages WHERE id IN ({marks})", passage_ids)}


def passage_text(db: sqlite3.Connection, passage_id: int) -> str:
    row = db.execute("SELECT text FROM passages WHERE id=?", (passage_id,)).fetchone()
    return row["text"] if row else ""


def choices(db: sqlite3.Connection, column: str) -> list[str]:
    """Every organ or document type in the index, for the filter lists."""
    assert column in ("organ", "doc_type")
    rows = db.execute(f"SELECT DISTINCT {column} FROM documents WHERE {column} IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows]


def years(db: sqlite3.Connection) -> list[int]:
    rows = db.execute(
        "SELECT DISTINCT substr(COALESCE(d.date, f.date), 1, 4) FROM files f LEFT JOIN documents d ON d.file_id = f.id"
    )
    return sorted(int(r[0]) for r in rows if r[0] and r[0].isdigit())


def _has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
    return any(r[1] == column for r in db.execute(f"PRAGMA table_info({table})"))


def index_status(db: sqlite3.Connection) -> dict[str, Any]:
    """What `sok status` reports, read without a writer Store."""
    one = lambda q: db.execute(q).fetchone()[0]  # noqa: E731
    meta = {r["key"]: r["value"] for r in db.execute("SELECT key, value FROM meta")}
    last = db.execute("SELECT started, finished, summary FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    files = db.execute(
        "SELECT f.relpath, f.kind, f.n_pages, f.title, f.date, f.indexed_at, f.root,"
        " (SELECT count(*) FROM passages p WHERE p.file_id = f.id) AS passages,"
        " (SELECT count(*) FROM pages g WHERE g.file_id = f.id AND g.is_empty) AS empty,"
        " (SELECT count(*) FROM pages g WHERE g.file_id = f.id AND g.quality != '{}') AS repaired"
        " FROM files f ORDER BY f.relpath"
    ).fetchall()
    empty: dict[str, list[int]] = {}
    ocr: dict[str, list[int]] = {}
    for r in db.execute(
        "SELECT f.relpath, p.number, p.source FROM pages p JOIN files f ON f.id = p.file_id WHERE p.is_empty ORDER BY 1, 2"
    ):
        (ocr if r[2] == "ocr" else empty).setdefault(r[0], []).append(r[1])
    personal = db.execute(
        "SELECT f.relpath, p.number, json_extract(p.personal, '$.personnummer'), json_extract(p.personal, '$.sekretess')"
        " FROM pages p JOIN files f ON f.id = p.file_id WHERE p.personal != '{}' ORDER BY 1, 2"
    ).fetchall() if _has_column(db, "pages", "personal") else []
    return {
        "personal_data": meta.get("personal_data") or "masked",
        "personal_pages": [{"file": r[0], "page": r[1], "personnummer": int(r[2] or 0), "secret": bool(r[3])}
                           for r in personal],
        "files": one("SELECT count(*) FROM files"),
        "pages": one("SELECT count(*) FROM pages"),
        "empty_pages": one("SELECT count(*) FROM pages WHERE is_empty"),
        "passages": one("SELECT count(*) FROM passages"),
        "documents": one("SELECT count(*) FROM documents") if _has_table(db, "documents") else None,
        "model": f"{meta['model_id']} ({meta.get('route') or meta.get('embedder')})" if meta.get("model_id") else None,
        "generation": meta.get("generation"),
        "roots": sorted({r["root"] for r in files}),
        "last_run": {"started": last[0], "finished": last[1], **json.loads(last[2])} if last else None,
        "file_rows": [dict(r) for r in files],
        "empty_by_file": empty,  # no text layer, not read by OCR
        "ocr_by_file": ocr,
        "repaired_pages": sum(r["repaired"] for r in files),
    }


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def counts(db: sqlite3.Connection) -> tuple[int, int]:
    """(files, passages) in the index."""
    files, passages = db.execute("SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM passages)").fetchone()
    return int(files), int(passages)


def _row_by_id(index_dir: Path, sql: str, row_id: int) -> tuple | None:
    """One row by integer id, or None: no such row, an id no SQLite integer
    can hold (a crafted URL), or no readable index."""
    if not (Path(index_dir) / "sok.sqlite").is_file() or not 0 < int(row_id) < 2**63:
        return None
    try:
        with readonly(index_dir) as db:
            row = db.execute(sql, (int(row_id),)).fetchone()
    except sqlite3.Error:
        return None
    return tuple(row) if row else None


def file_row(index_dir: Path, file_id: int) -> tuple[int, str, str, str, str | None, str] | None:
    """(id, path, root, relpath, title, sha256) of one indexed file, or None."""
    return _row_by_id(index_dir, "SELECT id, path, root, relpath, title, sha256 FROM files WHERE id=?", file_id)


def file_pages(index_dir: Path, file_id: int) -> list[tuple[int, str, int]]:
    """(page number, text as indexed, personnummer found) of one file's pages:
    the text view of a PDF whose original holds personnummer."""
    with readonly(index_dir) as db:
        rows = db.execute("SELECT number, text, COALESCE(json_extract(personal, '$.personnummer'), 0) FROM pages"
                          " WHERE file_id=? ORDER BY number", (int(file_id),)).fetchall()
    return [(r[0], r[1], int(r[2])) for r in rows]


def passage_place(index_dir: Path, passage_id: int) -> tuple[int, int, int, str] | None:
    """(file id, first page, last page, text as indexed) of one passage, or
    None: what the cited-place view marks."""
    return _row_by_id(index_dir, "SELECT file_id, page_start, page_end, text FROM passages WHERE id=?", passage_id)
