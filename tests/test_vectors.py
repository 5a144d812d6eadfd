import numpy as np

from sok.vectors import VectorIndex


def _unit(rng, n, d=8):
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


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
