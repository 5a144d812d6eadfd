"""The seam between the query layer and where passages live. Fusion, the
cut-off, answers and citations sit above `SearchBackend` and call nothing
else, so a server backend (PostgreSQL with pgvector, say) plugs in by
implementing these methods, and `tests/test_backend.py` (the conformance
suite, parametrised over backends) says whether it behaves.

What every backend must do:
- ranked ids only from the passages it holds, exactly filtered: with
  `allowed`, every result is in it, and the results are the best of the
  allowed (an empty `allowed` returns nothing);
- read one generation at a time: results come from the snapshot named by
  `generation` until `refresh` moves to a newer one, so a search never mixes
  two index runs; a passage deleted by a run is gone after `refresh`;
- scores on one scale per leg: BM25 for `lexical`, cosine for `dense` and
  `windows`, and `cosines`/`window_cosines` give the same cosine for any id
  as a top-k list would (`each_window_cosine`: every window of one passage,
  in order, for the answer's lines);
- `decisions_of`: for passages inside a §, the passages of that § (same
  document) that state its decision, so `sok ask` answers from decisions.

Writing stays with `sok.store.sync` for the embedded backend; a server
backend's writer will take the same passages and vectors from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

import numpy as np

from sok.config import CHUNK
from sok.records import Filters
from sok.store import derived
from sok.store.db import Store


class SearchBackend(Protocol):
    """Read side of a backend: what `Searcher`, answers and case views use."""

    @property
    def generation(self) -> int: ...

    def refresh(self) -> bool: ...

    def meta(self, key: str) -> str | None: ...

    def filter_ids(self, filters: Filters) -> np.ndarray: ...

    def lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]: ...

    def idf(self, term: str) -> float: ...

    def dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]: ...

    def windows(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]: ...

    def cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray: ...

    def window_cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray: ...

    def each_window_cosine(self, qvec: np.ndarray, pid: int) -> np.ndarray: ...

    def vector_count(self) -> int: ...

    def passages(self, ids: Sequence[int]) -> dict[int, Any]: ...

    def decisions_of(self, ids: Sequence[int]) -> dict[int, list[int]]: ...

    def item_rows(self, ids: Sequence[int]) -> list[Any]: ...

    def case_rows(self, number: str) -> list[Any]: ...

    def document_case_numbers(self) -> Iterator[list[str]]: ...

    def close(self) -> None: ...


def open_backend(index_dir: Path, url: str | None = None) -> SearchBackend:
    """The server backend at `url`, or the index folder's own."""
    if url:
        from sok.store.postgres import PostgresBackend, ShardedBackend, shard_urls

        urls = shard_urls(url)
        return PostgresBackend(urls[0]) if len(urls) == 1 else ShardedBackend(urls)
    return EmbeddedBackend(index_dir)


class EmbeddedBackend:
    """SQLite (passages and metadata) + FAISS (passage and sentence-window
    vectors) + tantivy (BM25), all in one index folder on this machine."""

    def __init__(self, index_dir: Path) -> None:
        self.store = Store(index_dir)
        self.derived = derived.load(self.store)

    @property
    def generation(self) -> int:
        return self.derived.generation

    def refresh(self) -> bool:
        """Move to the store's newest generation; True when there was one."""
        if self.store.generation == self.derived.generation:
            return False
        self.derived = derived.load(self.store)
        return True

    def meta(self, key: str) -> str | None:
        return self.store.get_meta(key)

    def filter_ids(self, filters: Filters) -> np.ndarray:
        return self.store.passage_ids(filters)

    def lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.derived.lexical.search(query, k, allowed=allowed)

    def idf(self, term: str) -> float:
        return self.derived.lexical.idf(term)

    def dense(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.derived.vectors.search(qvec, k, allowed=allowed)

    def windows(self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(passage id, cosine of its best sentence window), best first."""
        windows, width = self.derived.windows, CHUNK.max_windows
        if not len(windows):
            return []
        allowed_windows = None
        if allowed is not None:
            ids = windows.ids()
            allowed_windows = ids[np.isin(ids // width, allowed)]
        best: dict[int, float] = {}
        # a passage has up to `width` windows: read deep enough that k passages remain
        for wid, score in windows.search(qvec, k * 4, allowed=allowed_windows):
            best.setdefault(int(wid // width), score)
        return list(best.items())[:k]

    def cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.derived.vectors.group_max(qvec, ids, 1)

    def window_cosines(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.derived.windows.group_max(qvec, ids, CHUNK.max_windows)

    def each_window_cosine(self, qvec: np.ndarray, pid: int) -> np.ndarray:
        """The cosine of each of the passage's sentence windows, in order
        (chunking.windows): which part of a passage matches, for answer lines."""
        return self.derived.windows.group_scores(qvec, pid, CHUNK.max_windows)

    def vector_count(self) -> int:
        return len(self.derived.vectors)

    def passages(self, ids: Sequence[int]) -> dict[int, Any]:
        return self.store.passages(list(ids))

    def decisions_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        return self.store.decisions_of(list(ids))

    def item_rows(self, ids: Sequence[int]) -> list[Any]:
        return self.store.item_rows(list(ids))

    def case_rows(self, number: str) -> list[Any]:
        return self.store.case_rows(number)

    def document_case_numbers(self) -> Iterator[list[str]]:
        return self.store.document_case_numbers()

    def close(self) -> None:
        self.store.close()
