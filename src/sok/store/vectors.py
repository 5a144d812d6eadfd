"""Dense vectors in FAISS; FAISS ids are passage ids.

Two tiers, chosen by passage count (see `VectorConfig` for the measured
reasons behind each number):

- "flat": exact inner product over every vector (IndexIDMap2(IndexFlatIP)).
  Perfect recall; a query's cost grows linearly with the passages
  (BENCHMARKS.md, Vector search at scale).
- "ivf": the same exact flat store, plus an IVF index with 8-bit scalar
  quantised codes (IndexIVFScalarQuantizer, QT_8bit, a quarter of the float
  size) that proposes candidates; the candidates are re-scored exactly from
  the float32 store, so every returned cosine is exact and only the choice of
  candidates is approximate (recall@10 >= 0.95 on e5-like vectors, see
  benchmarks/vector_scale.py).

Filters stay exact under both tiers: with `allowed`, the answer is always an
exact search over the allowed vectors of the float32 store (each allowed row
read in place when few are allowed; one full exact scan, over-fetched and
then filtered, when many are), never an approximate search with a selector.

The file written by `save` starts with the flat store, the format of earlier
versions, so old `vectors-N.faiss` files still load; an IVF tier follows it
in the same file.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import faiss
import numpy as np


@dataclass(frozen=True)
class VectorConfig:
    """When to leave exact search, and how the approximate tier is shaped.

    Exact search up to the size where it still leaves room for the lexical
    leg within a query's budget and where the IVF tier first clears its
    recall target; HNSW was as fast but its graph builds grow faster than
    linearly. The measurements (benchmarks/vector_scale.py) are in
    BENCHMARKS.md (Vector search at scale; Ideas tried).
    """

    exact_max: int = 50_000  # flat (exact) up to this many passages
    lists_per_sqrt: float = 1.0  # IVF lists = lists_per_sqrt * sqrt(n), clipped below
    min_lists: int = 64
    max_lists: int = 8192
    probe_share: float = 1 / 32  # share of the lists each query scans, but at least min_probe lists:
    min_probe: int = 64  # on e5-like data recall@10 needs ~48-64 lists at 10k, 100k and 1M alike (0.96-0.998)
    train_per_list: int = 40  # k-means training sample: this many vectors per list
    rerank: int = 200  # candidates re-scored exactly (at least 2 * k)
    retrain_growth: float = 4.0  # rebuild the IVF tier when n passes this many times its training size
    scan_share: float = 0.4  # filtered: scan all when this share is allowed (measured break-even 0.35-0.45 at 50k and 1M)
    threads: int = 1  # OpenMP threads per single query: more only adds barrier waits on a busy 2-core box


VECTORS = VectorConfig()


def choose_kind(n: int, config: VectorConfig = VECTORS) -> str:
    """The tier for n passages: 'flat' up to `exact_max`, 'ivf' above."""
    return "flat" if n <= config.exact_max else "ivf"


def ivf_shape(n: int, config: VectorConfig = VECTORS) -> tuple[int, int]:
    """(lists, probes) for n passages. ~sqrt(n) lists keeps both the coarse
    step and the scanned lists small; the probed share sets the recall."""
    lists = int(min(config.max_lists, max(config.min_lists, round(config.lists_per_sqrt * math.sqrt(max(n, 1))))))
    lists = min(lists, max(1, n // 39))  # k-means wants >= 39 training points per centroid
    probes = min(lists, max(config.min_probe, math.ceil(lists * config.probe_share)))
    return lists, probes


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run FAISS calls in this thread with n OpenMP threads, then restore."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _train_ivf(dim: int, vectors: np.ndarray, ids: np.ndarray, config: VectorConfig) -> faiss.IndexIVFScalarQuantizer:
    lists, probes = ivf_shape(len(ids), config)
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sample = min(len(ids), lists * config.train_per_list)
    rows = np.random.default_rng(0).choice(len(ids), sample, replace=False) if sample < len(ids) else np.arange(len(ids))
    ivf.train(np.ascontiguousarray(vectors[np.sort(rows)]))
    for start in range(0, len(ids), 200_000):  # in slices: add() makes temporary copies
        ivf.add_with_ids(np.ascontiguousarray(vectors[start:start + 200_000]), ids[start:start + 200_000])
    ivf.nprobe = probes
    return ivf


class VectorIndex:
    """Passage vectors with exact or IVF search (see module docstring)."""

    def __init__(self, index: faiss.Index, ann: faiss.Index | None = None, config: VectorConfig = VECTORS) -> None:
        self._index = index  # IndexIDMap2(IndexFlatIP): the exact float32 store
        self._ann = ann
        self._trained_n = int(ann.ntotal) if ann is not None else 0
        self.config = config
        self._refresh()

    # ---- construction and persistence -------------------------------------------------

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, config: VectorConfig = VECTORS,
              kind: str | None = None) -> "VectorIndex":
        """The tier `choose_kind` picks for len(ids), unless `kind` forces one."""
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            index.add_with_ids(vectors, ids)
        kind = kind or choose_kind(len(ids), config)
        ann = _train_ivf(dim, vectors, ids, config) if kind == "ivf" and len(ids) else None
        return cls(index, ann, config)

    def save(self, path: Path) -> None:
        """One file: the flat store (the format earlier versions wrote), then the IVF tier if any."""
        writer = faiss.FileIOWriter(str(path))
        try:
            faiss.write_index(self._index, writer)
            if self._ann is not None:
                faiss.write_index(self._ann, writer)
        finally:
            del writer  # FileIOWriter flushes and closes when destroyed

    @classmethod
    def load(cls, path: Path, config: VectorConfig = VECTORS) -> "VectorIndex":
        reader = faiss.FileIOReader(str(path))
        try:
            index = faiss.read_index(reader)
            ann = _read_optional(reader)
        finally:
            del reader
        return cls(index, ann, config)

    # ---- introspection ----------------------------------------------------------------

    @property
    def kind(self) -> str:
        """'flat' or 'ivf': which tier answers unfiltered searches."""
        return "ivf" if self._ann is not None else "flat"

    @property
    def dim(self) -> int:
        """Vector dimension of the store."""
        return int(self._index.d)

    def ids(self) -> np.ndarray:
        """The passage ids held, for consistency checks."""
        return self._ids.copy()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _refresh(self) -> None:
        """Numpy views of the store: rows (no copy) and an id -> row lookup."""
        n, d = int(self._index.ntotal), int(self._index.d)
        # faiss's stubs lack the SWIG attributes used here (id_map, index, get_xb, knn_inner_products_by_idx)
        self._ids = faiss.vector_to_array(self._index.id_map).astype(np.int64) if n else np.zeros(0, np.int64)  # type: ignore[attr-defined]
        self._flat = faiss.downcast_index(self._index.index)  # type: ignore[attr-defined]
        self._xb = faiss.rev_swig_ptr(self._flat.get_xb(), n * d).reshape(n, d) if n else np.zeros((0, d), np.float32)  # type: ignore[attr-defined]
        self._order = np.argsort(self._ids, kind="stable")
        self._sorted = self._ids[self._order]

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the given passage ids; ids not held are dropped."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self._sorted, ids)
        pos[pos >= len(self._sorted)] = 0
        hit = self._sorted[pos] == ids if len(self._sorted) else np.zeros(len(ids), bool)
        return self._order[pos[hit]]

    # ---- changes ----------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace passages. Crossing `exact_max` (or outgrowing the
        IVF training by `retrain_growth`) rebuilds the approximate tier, so a
        growing index moves to the right tier without a full rebuild call."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        self.remove(ids, _retier=False)
        self._index.add_with_ids(vectors, ids)
        if self._ann is not None:
            self._ann.add_with_ids(vectors, ids)
        self._refresh()
        self._retier()

    def remove(self, ids: np.ndarray, _retier: bool = True) -> int:
        """Delete passages by id; returns how many were held."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        present = ids[np.isin(ids, self._ids)] if len(ids) else ids
        if not len(present):
            return 0
        self._index.remove_ids(faiss.IDSelectorBatch(present))
        if self._ann is not None:
            self._ann.remove_ids(faiss.IDSelectorBatch(present))
        self._refresh()
        if _retier:
            self._retier()
        return len(present)

    def _retier(self) -> None:
        n = len(self)
        want = choose_kind(n, self.config)
        if want == "flat" and self._ann is not None:
            self._ann = None
            self._trained_n = 0
        elif want == "ivf" and (self._ann is None or n > self.config.retrain_growth * max(self._trained_n, 1)):
            self._ann = _train_ivf(self.dim, self._xb, self._ids, self.config)
            self._trained_n = n

    # ---- search -----------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine), best first; `allowed` restricts to
        those passage ids and is always answered exactly."""
        if not len(self) or k <= 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        with _threads(self.config.threads):
            if allowed is not None:
                return self._search_allowed(q, k, np.asarray(allowed, dtype=np.int64))
            if self._ann is None:
                scores, ids = self._index.search(q, min(k, len(self)))
                return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
            pool = min(len(self), max(self.config.rerank, 2 * k))
            _, cand = self._ann.search(q, pool)
            cand = cand[0][cand[0] >= 0]
            return self._exact_over_rows(q, k, self._rows(cand))

    def group_max(self, query: np.ndarray, groups: np.ndarray, width: int) -> np.ndarray:
        """For each group g, the best inner product of the query with the held
        ids in [g * width, (g + 1) * width) (NaN where none is held): the best
        window of each candidate passage."""
        groups = np.asarray(groups, dtype=np.int64)
        lo = np.searchsorted(self._sorted, groups * width)
        hi = np.searchsorted(self._sorted, (groups + 1) * width)
        out = np.full(len(groups), np.nan, dtype=np.float32)
        if not len(groups) or not (hi > lo).any():
            return out
        rows = np.concatenate([self._order[a:b] for a, b in zip(lo, hi)])
        scores = self._xb[rows] @ np.asarray(query, dtype=np.float32).reshape(-1)
        owner = np.repeat(np.arange(len(groups)), hi - lo)
        np.fmax.at(out, owner, scores)
        return out

    def group_scores(self, query: np.ndarray, group: int, width: int) -> np.ndarray:
        """Inner products of the query with each held id in [group * width,
        (group + 1) * width), in id order: every window of one passage."""
        lo, hi = np.searchsorted(self._sorted, [group * width, (group + 1) * width])
        return self._xb[self._order[lo:hi]] @ np.asarray(query, dtype=np.float32).reshape(-1)

    def _exact_over_rows(self, q: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]]:
        """Exact top-k among the given rows of the float32 store, read in
        place (no gathered copy: at 1M passages a copy of half the rows would
        be 750 MB); measured faster than a bitmap-filtered full scan at every
        allowed share up to 50 %."""
        k = min(k, len(rows))
        if not k:
            return []
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        vals, found = np.empty(k, np.float32), np.empty(k, np.int64)
        knn = faiss.knn_inner_products_by_idx  # type: ignore[attr-defined]
        knn(faiss.swig_ptr(q), faiss.swig_ptr(self._xb), faiss.swig_ptr(rows), self.dim,
            1, len(self), len(rows), k, faiss.swig_ptr(vals), faiss.swig_ptr(found), 0)
        return [(int(self._ids[r]), float(s)) for r, s in zip(found, vals) if r >= 0]

    def _search_allowed(self, q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        if not len(allowed):
            return []
        rows = self._rows(allowed)
        if len(rows) > len(self) // 64:  # unique and sorted in O(n) (np.unique hashes: ~0.4 s at 500k ids)
            mask = np.zeros(len(self), dtype=bool)
            mask[rows] = True
            rows = np.flatnonzero(mask)
        else:
            rows = np.sort(rows)
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if len(rows) else rows
        if len(rows) >= self.config.scan_share * len(self):
            found = self._scan_allowed(q, k, rows)
            if found is not None:
                return found
        return self._exact_over_rows(q, k, rows)

    def _scan_allowed(self, q: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]] | None:
        """For a large allowed share: one plain exact scan of the whole store
        for the top k / share * 2 + k, keeping the allowed ones. If at least k
        of them are allowed, they are exactly the allowed top k (any better
        allowed vector would have been among the overall top); otherwise None,
        and the caller scores the allowed rows one by one."""
        fetch = min(len(self), int(math.ceil(k * len(self) / len(rows) * 2)) + k)
        scores, found = self._flat.search(q, fetch)
        keep = found[0] >= 0
        scores, found = scores[0][keep], found[0][keep]
        allowed = np.isin(found, rows, assume_unique=False)
        if allowed.sum() < min(k, len(rows)):
            return None
        return [(int(self._ids[r]), float(s)) for r, s in zip(found[allowed][:k], scores[allowed][:k])]


def _read_optional(reader: faiss.IOReader) -> faiss.Index | None:
    """The IVF tier after the flat store, or None at the end of the file."""
    try:
        return faiss.read_index(reader)
    except RuntimeError:
        return None
