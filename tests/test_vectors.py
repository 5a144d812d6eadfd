"""VectorIndex: exact filters under every tier, the size chooser, the file
round trip (including files written by earlier versions), add/remove, and
approximate recall on clustered data."""

import faiss
import numpy as np
import pytest

from sok.store.vectors import VECTORS, VectorConfig, VectorIndex, choose_kind, ivf_shape

KINDS = ("flat", "ivf")


def _unit(rng, n, d=8):
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _clustered(rng, n, d=32, topics=50):
    """Unit vectors around a few topic centres: the shape real embeddings have."""
    centres = rng.standard_normal((topics, d)).astype(np.float32)
    x = centres[rng.integers(0, topics, n)] + 0.5 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _exact(ids, vecs, q, k, allowed=None):
    keep = np.isin(ids, allowed) if allowed is not None else np.ones(len(ids), bool)
    scores = vecs[keep] @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[keep][order], scores[order]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    vecs = _unit(rng, 20_000, 32)
    ids = rng.permutation(200_000)[:20_000].astype(np.int64)  # not row numbers, not sorted
    return ids, vecs


@pytest.fixture(scope="module", params=KINDS)
def index(request, data):
    ids, vecs = data
    return VectorIndex.build(32, ids, vecs, kind=request.param)


def test_ids_are_passage_ids_and_filters_are_exact(tmp_path):
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 50)
    ids = np.arange(1000, 1050)
    index = VectorIndex.build(8, ids, vecs)
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert len(loaded) == 50
    top = loaded.search(vecs[7], k=3)
    assert top[0][0] == 1007 and abs(top[0][1] - 1.0) < 1e-5
    allowed = np.array([1010, 1020])
    assert {pid for pid, _ in loaded.search(vecs[7], k=5, allowed=allowed)} == {1010, 1020}
    assert loaded.search(vecs[7], k=5, allowed=np.array([], dtype=np.int64)) == []


def test_empty_index_answers_nothing():
    assert VectorIndex.build(8, np.array([], dtype=np.int64), np.zeros((0, 8), np.float32)).search(np.ones(8), k=3) == []


@pytest.mark.parametrize("share", [0.0005, 0.01, 0.2, 0.5, 1.0])
def test_filters_equal_exact_search_over_the_allowed_ids(index, data, share):
    """Small sets are gathered, large ones scanned with a bitmap: both exact, in every tier."""
    ids, vecs = data
    rng = np.random.default_rng(int(share * 1e4))
    allowed = rng.choice(ids, max(1, int(share * len(ids))), replace=False)
    allowed = np.concatenate([allowed, [10**9]])  # an id the index does not hold is ignored
    for q in _unit(rng, 5, 32):
        got = index.search(q, 50, allowed=allowed)
        want_ids, want_scores = _exact(ids, vecs, q, 50, allowed)
        assert [pid for pid, _ in got] == want_ids.tolist()
        np.testing.assert_allclose([s for _, s in got], want_scores, atol=1e-5)


def test_unfiltered_scores_are_exact_cosines(index, data):
    ids, vecs = data
    row = {int(i): r for r, i in enumerate(ids)}
    q = vecs[123]
    got = index.search(q, 20)
    assert got[0][0] == ids[123]
    for pid, score in got:
        assert abs(score - float(vecs[row[pid]] @ q)) < 1e-5


def test_chooser_switches_to_ivf_above_the_exact_limit():
    assert choose_kind(10) == "flat"
    assert choose_kind(VECTORS.exact_max) == "flat"
    assert choose_kind(VECTORS.exact_max + 1) == "ivf"
    lists, probes = ivf_shape(1_000_000)
    assert 500 <= lists <= 2000 and VECTORS.min_probe <= probes <= lists
    rng = np.random.default_rng(2)
    small = VectorConfig(exact_max=500)
    vecs = _unit(rng, 2_000, 16)
    assert VectorIndex.build(16, np.arange(400), vecs[:400], small).kind == "flat"
    assert VectorIndex.build(16, np.arange(2_000), vecs, small).kind == "ivf"


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(tmp_path, data, kind):
    ids, vecs = data
    built = VectorIndex.build(32, ids[:5000], vecs[:5000], kind=kind)
    built.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert loaded.kind == kind and len(loaded) == 5000
    assert sorted(loaded.ids().tolist()) == sorted(ids[:5000].tolist())
    for q in vecs[:5]:
        assert loaded.search(q, 10) == built.search(q, 10)


def test_files_of_earlier_versions_still_load(tmp_path, data):
    ids, vecs = data
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(32))
    old.add_with_ids(vecs[:100], ids[:100])
    faiss.write_index(old, str(tmp_path / "old.faiss"))
    loaded = VectorIndex.load(tmp_path / "old.faiss")
    assert loaded.kind == "flat" and loaded.search(vecs[3], 1)[0][0] == ids[3]


def test_add_replaces_and_remove_deletes_and_tiers_follow_the_size():
    rng = np.random.default_rng(3)
    cfg = VectorConfig(exact_max=1_000, min_probe=8)
    vecs = _unit(rng, 3_000, 16)
    index = VectorIndex.build(16, np.arange(900), vecs[:900], cfg)
    assert index.kind == "flat"
    index.add(np.arange(900, 3_000), vecs[900:])
    assert index.kind == "ivf" and len(index) == 3_000
    index.add(np.array([5]), vecs[2999:3000])  # same id again: replaced, not duplicated
    assert len(index) == 3_000 and index.search(vecs[2999], 2, allowed=np.array([5]))[0][0] == 5
    assert index.remove(np.arange(1_000, 3_000)) == 2_000
    assert index.kind == "flat" and len(index) == 1_000
    assert index.search(vecs[2000], 5, allowed=np.arange(1_000, 3_000)) == []
    assert all(pid < 1_000 for pid, _ in index.search(vecs[2000], 10))


def test_ivf_recall_on_clustered_vectors():
    rng = np.random.default_rng(4)
    vecs = _clustered(rng, 30_000)
    queries = _clustered(np.random.default_rng(5), 100)
    ids = np.arange(30_000, dtype=np.int64)
    index = VectorIndex.build(32, ids, vecs, kind="ivf")
    recall = np.mean([len({p for p, _ in index.search(q, 10)} & set(_exact(ids, vecs, q, 10)[0].tolist())) / 10
                      for q in queries])
    assert recall >= 0.95


def test_large_filter_whose_best_vectors_are_all_excluded_falls_back_exactly(index, data):
    """The over-fetching scan finds no allowed vector among the overall best
    here, so the per-row path must answer, still exactly."""
    ids, vecs = data
    q = vecs[0]
    allowed = ids[np.argsort(vecs @ q)[: len(ids) // 2]]  # the half farthest from q
    got = index.search(q, 10, allowed=allowed)
    want_ids, want_scores = _exact(ids, vecs, q, 10, allowed)
    assert [pid for pid, _ in got] == want_ids.tolist()
    np.testing.assert_allclose([s for _, s in got], want_scores, atol=1e-5)
