"""The FAISS and lexical indexes derived from the store, stamped with its
generation. A reader only trusts files whose stamp equals the store's
generation; otherwise it works from the store in memory, so a run
interrupted between the store commit and the index writes is still correct.

FAISS is rebuilt whole from the embedding cache (cheap: no model runs).
The lexical index is one persistent tantivy index in `lexical/`, brought up
to date by a diff with the store: entries whose (passage id, content key)
the store no longer has are deleted, passages the index lacks are added,
all in one atomic tantivy commit; only then is `lexical.json` stamped with
the generation. Because the diff is taken against what the index really
holds (read from its fast fields), not against a record of what was meant
to happen, a crash at any point leaves a state the next sync repairs: an
uncommitted batch vanishes, a committed but unstamped one diffs to nothing.
Adding an id always deletes it first, so no entry is ever duplicated.

The stamp also names the store it was made from (a random index id, so a
recreated store whose generation happens to equal the old one is not taken
for it) and the size and sha256 of every derived file. Random bytes in a
FAISS file or a tantivy segment change no size and raise nothing, and would
silently drop passages from search; a checksum catches them, so a reader
works from the store instead and the next `sok index` rebuilds the file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sok.config import CHUNK
from sok.records import locating_text
from sok.store.db import Store
from sok.store.lexical import LEXICAL_VERSION, TantivyIndex, content_key
from sok.store.vectors import VectorIndex

LEXICAL_DIR = "lexical"
STAMP = "lexical.json"
_FORMAT = "format.json"  # inside LEXICAL_DIR: the schema the folder was made with


def pause_point(stage: str) -> None:
    """A seam for the interruption tests: with SOK_PAUSE_AT=stage the run
    announces the stage on stderr and waits there, so a test can kill it at
    exactly that point."""
    if os.environ.get("SOK_PAUSE_AT") == stage:
        print(f"SOK_PAUSED {stage}", file=sys.stderr, flush=True)
        time.sleep(600)


@dataclass
class Derived:
    lexical: TantivyIndex
    vectors: VectorIndex
    generation: int
    windows: VectorIndex  # sentence windows; ids are passage id * CHUNK.max_windows + ordinal


@dataclass
class LexicalDiff:
    deletes: list[int]
    adds: list[int]
    keys: dict[int, int]  # content key of every passage in the store

    def __bool__(self) -> bool:
        return bool(self.deletes or self.adds)


def _vectors_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"vectors-{generation}.faiss"


def _windows_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"windows-{generation}.faiss"


def _key(row: tuple) -> int:
    pid, text_hash, title, organ, item_title, heading_path = row[:6]
    return content_key(text_hash, title, organ, item_title, heading_path)


def store_keys(store: Store) -> dict[int, int]:
    """Content key of every passage in the store, by passage id."""
    return {row[0]: _key(row) for row in store.lexical_sources()}


def lexical_entries(store: Store, ids: list[int]) -> Iterator[tuple[int, str, int]]:
    """(id, text to index, content key) for these passages, streamed from the store."""
    for row in store.lexical_sources(ids, with_text=True):
        pid, _, title, organ, item_title, heading_path, text = row
        yield pid, locating_text(title, organ, item_title, json.loads(heading_path), text), _key(row)


def diff(index: TantivyIndex, keys: dict[int, int]) -> LexicalDiff:
    """What turns the index's real content into the store's: ids to delete
    (gone, changed, or held more than once) and ids to add (missing or changed)."""
    have_ids, have_keys = index.entries()
    have: dict[int, int] = {}
    deletes: set[int] = set()
    for pid, key in zip(have_ids.tolist(), have_keys.tolist()):
        if pid in have:  # never written so, but a duplicate must not survive
            deletes.add(pid)
        have[pid] = key
    adds = [pid for pid, key in keys.items() if have.get(pid) != key or pid in deletes]
    deletes.update(pid for pid, key in have.items() if keys.get(pid) != key)
    return LexicalDiff(sorted(deletes - set(adds)), adds, keys)


def _open_persistent(folder: Path) -> TantivyIndex:
    """The index in `folder`, made afresh when missing, of another format or unreadable."""
    fmt = {"lexical_version": LEXICAL_VERSION}
    try:
        if json.loads((folder / _FORMAT).read_text()) == fmt:
            return TantivyIndex.open(folder)
    except Exception:  # missing, of another format, or unreadable (tantivy raises ValueError or others)
        pass
    shutil.rmtree(folder, ignore_errors=True)
    index = TantivyIndex.open(folder, create=True)
    _write_json(folder / _FORMAT, fmt)
    return index


def _write_json(path: Path, value: dict) -> None:
    """Atomically: a crash leaves the old file or the new, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def sync_lexical(store: Store) -> tuple[TantivyIndex, LexicalDiff]:
    """Bring the persistent lexical index up to the store's content by diff;
    the writer (`sok index`, under the index lock) calls this."""
    index = _open_persistent(store.dir / LEXICAL_DIR)
    change = diff(index, store_keys(store))
    if change:

        pause_point("lexical")
        index.apply(adds=lexical_entries(store, change.adds), deletes=change.deletes)
        pause_point("lexical-committed")
    return index, change


def _vectors(store: Store, windows: bool = False) -> VectorIndex:
    model, dim = store.get_meta("model_id"), int(store.get_meta("dim") or 0)
    if not model:
        return VectorIndex.build(dim or 1, np.zeros(0, np.int64), np.zeros((0, dim or 1), np.float32))
    ids, vecs = store.window_vectors(model, dim, CHUNK.max_windows) if windows else store.passage_vectors(model, dim)
    return VectorIndex.build(dim, ids, vecs)


def build(store: Store) -> Derived:
    """The writer's step: sync the lexical index on disk, rebuild FAISS in memory.
    `write` then saves FAISS and stamps both with the generation."""
    lexical, _ = sync_lexical(store)
    return Derived(lexical, _vectors(store), store.generation, _vectors(store, windows=True))


def _stamp(index_dir: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads((index_dir / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and stamp.get("lexical_version") == LEXICAL_VERSION else None


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _derived_files(index_dir: Path, generation: int) -> list[Path]:
    """The files a reader loads: both FAISS files and the lexical folder's
    (tantivy's dot-files, its locks and bookkeeping, are not read for search)."""
    folder = index_dir / LEXICAL_DIR
    lexical = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    return [_vectors_path(index_dir, generation), _windows_path(index_dir, generation), *lexical]


def manifest(index_dir: Path, generation: int) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every derived file, by path relative to the index folder."""
    return {p.relative_to(index_dir).as_posix(): {"size": p.stat().st_size, "sha256": _digest(p)}
            for p in _derived_files(index_dir, generation)}


@dataclass
class Check:
    """What the derived files on disk are worth to this store."""

    current: bool  # stamped for this store and its generation
    damaged: list[str]  # files of the stamp that are missing or differ from their checksum

    @property
    def usable(self) -> bool:
        return self.current and not self.damaged


def check(store: Store) -> Check:
    """Compare the stamp with the store and every file with its checksum. A
    stale stamp is normal (a run between its commit and its index writes);
    damage is not, and is reported by file name."""
    stamp = _stamp(store.dir)
    if stamp is None or stamp.get("generation") != store.generation or stamp.get("index_id") != store.get_meta("index_id"):
        return Check(False, [])
    if not (store.dir / LEXICAL_DIR / "meta.json").exists():  # a deleted folder is rebuilt by the next run
        return Check(True, [LEXICAL_DIR])
    damaged = []
    for name, want in (stamp.get("files") or {}).items():
        path = store.dir / name
        try:
            if path.stat().st_size != want["size"] or _digest(path) != want["sha256"]:
                damaged.append(name)
        except OSError:
            damaged.append(name)
    return Check(True, damaged)


def is_current(store: Store) -> bool:
    """Files stamped for this store's generation, each as it was written."""
    return check(store).usable


def write(store: Store, derived: Derived) -> None:
    """Save FAISS under a temporary name and rename it into place, stamp the
    (already committed) lexical index, then drop older generations' files."""
    keep = []
    for index, path in ((derived.vectors, _vectors_path(store.dir, derived.generation)),
                        (derived.windows, _windows_path(store.dir, derived.generation))):
        tmp = path.with_suffix(".faiss.tmp")
        index.save(tmp)
        os.replace(tmp, path)
        keep.append(path)
    _write_json(store.dir / STAMP, {"generation": derived.generation, "lexical_version": LEXICAL_VERSION,
                                    "index_id": store.get_meta("index_id"),
                                    "files": manifest(store.dir, derived.generation)})
    for old in [*store.dir.glob("vectors-*.faiss"), *store.dir.glob("windows-*.faiss")]:
        if old not in keep:
            old.unlink(missing_ok=True)
    for old in store.dir.glob("lexical-*"):  # the bm25s folders of earlier versions
        shutil.rmtree(old, ignore_errors=True)


def _lexical_for_reader(store: Store, trust_disk: bool = True) -> TantivyIndex:
    """A reader never writes: it uses the index on disk when that holds exactly
    the store's passages (say, committed but not yet stamped), otherwise an
    in-memory index built from the store."""
    folder = store.dir / LEXICAL_DIR
    keys = store_keys(store)
    try:
        if trust_disk and json.loads((folder / _FORMAT).read_text()) == {"lexical_version": LEXICAL_VERSION}:
            on_disk = TantivyIndex.open(folder)
            if not diff(on_disk, keys):
                return on_disk
    except Exception:  # missing or unreadable on disk: build from the store below
        pass
    ids = list(keys)
    entries = list(lexical_entries(store, ids))
    return TantivyIndex.build([e[0] for e in entries], [e[1] for e in entries], keys=[e[2] for e in entries])


def notice(message: str) -> None:
    """One line on stderr for whoever runs the reader (the terminal, the app's log)."""
    print(f"sok: {message}", file=sys.stderr, flush=True)


def load(store: Store) -> Derived:
    """The current files, or an in-memory rebuild from the store when they
    are missing, stale, damaged or unreadable (damage is said, and left for
    the next `sok index` to repair: a reader never writes)."""
    generation = store.generation
    state = check(store)
    if state.damaged:
        notice(f"skadade indexfiler ({', '.join(state.damaged)}): söker från lagret tills  sok index  har byggt om dem.")
    if state.usable:
        try:
            return Derived(TantivyIndex.open(store.dir / LEXICAL_DIR),
                           VectorIndex.load(_vectors_path(store.dir, generation)), generation,
                           VectorIndex.load(_windows_path(store.dir, generation)))
        except Exception as exc:  # tantivy raises ValueError or others, faiss RuntimeError
            notice(f"indexfilerna kan inte läsas ({exc}): söker från lagret tills  sok index  har byggt om dem.")
    lexical_ok = not any(name.startswith(LEXICAL_DIR) for name in state.damaged)
    return Derived(_lexical_for_reader(store, trust_disk=lexical_ok), _vectors(store), generation,
                   _vectors(store, windows=True))
