"""Embedding on a Dask distributed cluster: `sok index --dask tcp://HOST:8786`.

Embedding is the slow stage (a cold index of the shared corpus spends most
of its time there), so that is what goes to the workers: `embed_missing`
hands its batches to `DaskEmbedder`, which splits each into chunks, runs
them as tasks with `load_embedder` on the workers (GPU workers where they
have one: `device="auto"` is decided there), and returns the vectors in
order. Extraction, chunking, the store and the indexes stay in the one
writer, where their order matters, and call the same stage functions as a
local run: nothing is copied.

A worker that dies mid-run loses its tasks and the scheduler runs them
again on another worker (distributed's own recovery); the run goes on. A
batch is written to the embedding cache only once all its vectors are back,
so a rerun after an interrupted run embeds only what is missing."""

from __future__ import annotations

from typing import Any

import numpy as np

from sok.embedding.base import Embedder, EmbedderError

CHUNK = 16  # texts per task: small enough to spread a batch over the workers, large enough to batch on each
_LOADED: dict[tuple[str, str], Embedder] = {}  # per worker process: a model loads once, not per task


def _on_worker(spec: str, device: str) -> Embedder:
    from sok.embedding import load_embedder

    key = (spec, device)
    if key not in _LOADED:
        _LOADED[key] = load_embedder(spec, device=device)
    return _LOADED[key]


def _describe(spec: str, device: str) -> tuple[str, int, str]:
    embedder = _on_worker(spec, device)
    return embedder.model_id, embedder.dim, getattr(embedder, "route", spec)


def _embed(spec: str, device: str, texts: list[str]) -> np.ndarray:
    return _on_worker(spec, device).embed_passages(texts)


class DaskEmbedder:
    """An `Embedder` whose passages are embedded by the cluster's workers."""

    def __init__(self, address: str, spec: str, device: str = "auto", timeout_s: float = 60) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise EmbedderError("--dask kräver Dask distributed: pip install 'sok[dask]'") from None
        try:
            self.client: Any = Client(address, timeout=timeout_s)
        except OSError as exc:
            raise EmbedderError(f"Dask-schemaläggaren {address} svarar inte ({exc}).") from None
        self.spec, self.device = spec, device
        self.workers = len(self.client.scheduler_info()["workers"])
        if not self.workers:
            raise EmbedderError(f"Dask-klustret {address} har inga arbetare.")
        self.model_id, self.dim, route = self.client.submit(_describe, spec, device, pure=False).result()
        self.route = f"{route} på {self.workers} Dask-arbetare"
        self.preferred_batch = CHUNK * 4 * self.workers  # a batch keeps every worker busy

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
        futures = self.client.map(_embed, [self.spec] * len(chunks), [self.device] * len(chunks), chunks, pure=False)
        return np.vstack(self.client.gather(futures)).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        from sok.embedding import load_query_embedder

        return load_query_embedder(self.spec).embed_query(text)

    def close(self) -> None:
        self.client.close()
