"""Bevakningar (saved searches) and the hits each has reported, in their own
SQLite file beside the index (`watches.sqlite`): they are the user's, not
derived from the documents, so rebuilding or migrating the index never
touches them. The store package holds sok's SQL; this is its part for them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sok.records import Filters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    query TEXT NOT NULL,
    filters TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_hits (
    watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    passage_key TEXT NOT NULL,  -- the file and the text's hash: the same passage after a re-index
    found TEXT NOT NULL,  -- when the index run that brought it ended
    baseline INTEGER NOT NULL DEFAULT 0,  -- already there when the watch was added: known, never news
    seen INTEGER NOT NULL DEFAULT 0,
    title TEXT, organ TEXT, doc_type TEXT, date TEXT, item TEXT,
    file TEXT NOT NULL, path TEXT NOT NULL, page_start INTEGER, page_end INTEGER,
    passage_id INTEGER, snippet TEXT, text TEXT NOT NULL,
    PRIMARY KEY (watch_id, passage_key)
);
"""


class WatchError(Exception):
    """A watch that cannot be added or found; the message is Swedish."""


@dataclass
class Watch:
    id: int
    name: str
    query: str
    filters: Filters = field(default_factory=Filters)
    created: str = ""


@dataclass
class WatchHit:
    """A passage a watch reported, with its citation."""

    watch: str
    passage_key: str
    found: str
    title: str | None
    organ: str | None
    doc_type: str | None
    date: str | None
    item: str | None
    file: str
    path: str
    page_start: int
    page_end: int
    passage_id: int | None
    snippet: str
    text: str
    seen: bool = False


class WatchList:
    def __init__(self, index_dir: Path, create: bool = True) -> None:
        """`create=False`: where the index has no watch list yet, an empty one in memory (nothing written)."""
        path = Path(index_dir) / "watches.sqlite"
        if create:
            Path(index_dir).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path if create or path.exists() else ":memory:", timeout=30, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "WatchList":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, query: str, filters: Filters | None = None) -> Watch:
        if not query.strip():
            raise WatchError("en bevakning behöver en fråga eller några sökord")
        try:
            with self.db:
                self.db.execute("INSERT INTO watches(name, query, filters, created) VALUES (?,?,?,?)",
                                      (name, query.strip(), json.dumps(asdict(filters or Filters()), ensure_ascii=False),
                                       _now()))
        except sqlite3.IntegrityError:
            raise WatchError(f"det finns redan en bevakning som heter {name!r}; välj ett annat namn med --name "
                             f"eller ta bort den med  sok watch remove {name!r}") from None
        return self.get(name)

    def get(self, name: str) -> Watch:
        row = self.db.execute("SELECT * FROM watches WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(w.name for w in self.all()) or "inga"
            raise WatchError(f"ingen bevakning heter {name!r} (bevakningar: {known})")
        return _watch(row)

    def all(self) -> list[Watch]:
        return [_watch(r) for r in self.db.execute("SELECT * FROM watches ORDER BY name")]

    def remove(self, name: str) -> None:
        watch = self.get(name)
        with self.db:
            self.db.execute("DELETE FROM watches WHERE id = ?", (watch.id,))

    def reported(self, watch: Watch) -> list[WatchHit]:
        """Everything the watch has recorded, the baseline included."""
        return [_hit(r) for r in self.db.execute(
            "SELECT w.name AS watch, h.* FROM watch_hits h JOIN watches w ON w.id = h.watch_id WHERE h.watch_id = ?",
            (watch.id,))]

    def record(self, watch: Watch, hits: list[dict[str, Any]], baseline: bool = False) -> int:
        """Record hits (dicts with WatchHit's citation fields and passage_key)
        once each; returns how many were new to the watch."""
        found = _now()
        with self.db:
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO watch_hits(watch_id, passage_key, found, baseline, seen, title, organ, doc_type,"
                " date, item, file, path, page_start, page_end, passage_id, snippet, text)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(watch.id, h["passage_key"], found, int(baseline), int(baseline), h.get("title"), h.get("organ"),
                  h.get("doc_type"), h.get("date"), h.get("item"), h["file"], h["path"], h.get("page_start"),
                  h.get("page_end"), h.get("passage_id"), h.get("snippet", ""), h["text"]) for h in hits])
            return self.db.total_changes - before

    def news(self, name: str | None = None, mark_seen: bool = True) -> list[WatchHit]:
        """Hits not yet shown (never the baseline), oldest run first; shown once unless `mark_seen` is off."""
        where, args = "h.seen = 0 AND h.baseline = 0", []
        if name is not None:
            where += " AND h.watch_id = ?"
            args.append(self.get(name).id)
        rows = self.db.execute(
            "SELECT w.name AS watch, h.* FROM watch_hits h JOIN watches w ON w.id = h.watch_id"
            f" WHERE {where} ORDER BY h.found, w.name, h.date", args).fetchall()
        if mark_seen and rows:
            with self.db:
                self.db.executemany("UPDATE watch_hits SET seen = 1 WHERE watch_id = ? AND passage_key = ?",
                                    [(r["watch_id"], r["passage_key"]) for r in rows])
        return [_hit(r) for r in rows]

    def feed_entries(self, name: str | None = None, limit: int = 200) -> list[WatchHit]:
        """What a feed shows: the hits found after each watch was added, newest first."""
        where, args = "h.baseline = 0", []
        if name is not None:
            where += " AND h.watch_id = ?"
            args.append(self.get(name).id)
        return [_hit(r) for r in self.db.execute(
            "SELECT w.name AS watch, h.* FROM watch_hits h JOIN watches w ON w.id = h.watch_id"
            f" WHERE {where} ORDER BY h.found DESC, h.date DESC LIMIT ?", [*args, limit])]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _watch(row: sqlite3.Row) -> Watch:
    return Watch(row["id"], row["name"], row["query"], Filters(**json.loads(row["filters"])), row["created"])


def _hit(row: sqlite3.Row) -> WatchHit:
    return WatchHit(row["watch"], row["passage_key"], row["found"], row["title"], row["organ"], row["doc_type"],
                    row["date"], row["item"], row["file"], row["path"], row["page_start"], row["page_end"],
                    row["passage_id"], row["snippet"] or "", row["text"], bool(row["seen"]))
