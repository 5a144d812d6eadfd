import numpy as np
import pytest

from sok.ingest.meeting import LogicalDocument
from sok.records import ExtractedFile, Page, Passage
from sok.store.db import Store, StoreError


def _file(path: str) -> ExtractedFile:
    doc = LogicalDocument("Protokoll", "protokoll", "kommunstyrelsen", "Nacka kommun", "2024-01-02", ["KFKS 2024/1"], [], 1, 2)
    return ExtractedFile(path=path, relpath=path.rsplit("/", 1)[-1], sha256="0" * 64, size=10, kind="md",
                         pages=[Page(1, "text", "text"), Page(2, "", "")], title="T", date="2024-01-02", documents=[doc])


def test_transaction_is_all_or_nothing(tmp_path):
    store = Store(tmp_path, writer=True)
    passage = Passage(0, "text", 1, 1, 0, 4, ["Rubrik"])
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_file(tmp_path, _file("/x/a.md"), [passage], ["h1"])
            raise RuntimeError("avbrott")
    assert store.counts()["files"] == 0
    with store.transaction():
        store.add_file(tmp_path, _file("/x/a.md"), [passage], ["h1"], [["w1", "w2"]])
    assert store.counts() == {"files": 1, "pages": 2, "empty_pages": 1, "ocr_pages": 0, "repaired_pages": 0,
                              "documents": 1, "passages": 1, "windows": 2}
    assert store.empty_pages() == [("a.md", 2, False)]
    row = next(iter(store.passages([1]).values()))
    assert (row["organ"], row["doc_type"], row["date"], row["title"]) == ("kommunstyrelsen", "protokoll", "2024-01-02", "Protokoll")


def test_deleting_a_file_cascades_and_cache_survives(tmp_path):
    store = Store(tmp_path, writer=True)
    with store.transaction():
        store.add_file(tmp_path, _file("/x/a.md"), [Passage(0, "text", 1, 1, 0, 4)], ["h1"])
    store.put_vectors("m", ["h1"], np.ones((1, 4), np.float32))
    ids, vecs = store.passage_vectors("m", 4)
    assert len(ids) == 1 and vecs.shape == (1, 4)
    with store.transaction():
        store.delete_files([row["id"] for row in store.files_under(tmp_path).values()])
    assert store.counts()["passages"] == 0 and store.counts()["pages"] == 0
    assert store.cached_hashes("m", ["h1", "h2"]) == {"h1"}


def test_older_format_is_refused_by_readers_and_migrated_by_the_writer(tmp_path):
    store = Store(tmp_path, writer=True)
    store.put_vectors("m", ["h1"], np.ones((1, 4), np.float32))
    store.set_meta("schema_version", "1")
    store.db.commit()
    store.close()
    with pytest.raises(StoreError, match="äldre format"):
        Store(tmp_path)
    writer = Store(tmp_path, writer=True)
    assert writer.get_meta("schema_version") != "1" and writer.cached_hashes("m", ["h1"]) == {"h1"}


def test_link_meetings_dates_a_tjansteskrivelse_by_the_protokoll_that_lists_its_case(tmp_path):
    store = Store(tmp_path, writer=True)
    tjskr = LogicalDocument("Nedläggning", "tjänsteskrivelse", None, "Nacka kommun", None, ["KFKS 2024/1"], [], 1, 1,
                            document_date="2023-12-10")
    f = ExtractedFile(path="/x/t.md", relpath="t.md", sha256="1" * 64, size=10, kind="md", pages=[Page(1, "t", "t")],
                      title="T", documents=[tjskr])
    with store.transaction():
        store.add_file(tmp_path, f, [Passage(0, "t", 1, 1, 0, 1)], ["h2"])
        assert store.link_meetings() == 0  # no meeting record yet: its own date
    assert store.db.execute("SELECT date, organ FROM documents").fetchone()[:] == ("2023-12-10", None)
    with store.transaction():
        store.add_file(tmp_path, _file("/x/a.md"), [Passage(0, "text", 1, 1, 0, 4)], ["h1"])
        assert store.link_meetings() == 1
    row = store.db.execute("SELECT date, organ, handled_case FROM documents WHERE doc_type = 'tjänsteskrivelse'").fetchone()
    assert tuple(row) == ("2024-01-02", "kommunstyrelsen", "KFKS 2024/1")
    with store.transaction():  # the protokoll goes: the link goes with it
        store.delete_files([r["id"] for p, r in store.files_under(tmp_path).items() if p == "/x/a.md"])
        store.link_meetings()
    assert tuple(store.db.execute("SELECT date, organ, handled_case FROM documents").fetchone()) == ("2023-12-10", None, None)


def test_an_older_index_keeps_its_embedding_cache_when_the_writer_migrates_it(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "sok.sqlite")
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema_version', '3');"
        "CREATE TABLE embeddings (model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,"
        " PRIMARY KEY (model, text_hash));"
    )
    old.execute("INSERT INTO embeddings VALUES ('m', 'h1', ?)", (np.ones(4, np.float32).tobytes(),))
    old.commit()
    old.close()
    with pytest.raises(StoreError, match="äldre format"):
        Store(tmp_path)
    store = Store(tmp_path, writer=True)
    assert store.cached_hashes("m", ["h1", "h2"]) == {"h1"}
    assert not store.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'embeddings'").fetchone()
    store.close()
