"""The FAISS and BM25 files, rebuilt from the store and stamped with its
generation. A reader only trusts files whose stamp equals the store's
generation; otherwise it rebuilds them in memory from the store, so a run
interrupted between the store commit and the file writes is still correct."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .lexical import LexicalIndex
from .store import Store
from .vectors import VectorIndex


@dataclass
class Derived:
    lexical: LexicalIndex
    vectors: VectorIndex
    generation: int


def _paths(index_dir: Path, generation: int) -> tuple[Path, Path]:
    return index_dir / f"vectors-{generation}.faiss", index_dir / f"lexical-{generation}"


def build(store: Store) -> Derived:
    model, dim = store.get_meta("model_id"), int(store.get_meta("dim") or 0)
    ids, texts = store.lexical_documents()
    lexical = LexicalIndex.build(ids, texts)
    vec_ids, vecs = store.passage_vectors(model, dim) if model else ([], [])
    vectors = VectorIndex.build(dim or 1, vec_ids, vecs)
    return Derived(lexical, vectors, store.generation)


def is_current(store: Store) -> bool:
    vec_path, lex_path = _paths(store.dir, store.generation)
    return vec_path.exists() and (lex_path / "ids.npy").exists()


def write(store: Store, derived: Derived) -> None:
    """Write to temporary names, rename into place, then drop older generations."""
    vec_path, lex_path = _paths(store.dir, derived.generation)
    tmp_vec = vec_path.with_suffix(".faiss.tmp")
    tmp_lex = lex_path.with_name(lex_path.name + ".tmp")
    shutil.rmtree(tmp_lex, ignore_errors=True)
    derived.vectors.save(tmp_vec)
    derived.lexical.save(tmp_lex)
    shutil.rmtree(lex_path, ignore_errors=True)
    os.replace(tmp_lex, lex_path)
    os.replace(tmp_vec, vec_path)
    for old in store.dir.glob("vectors-*.faiss"):
        if old != vec_path:
            old.unlink(missing_ok=True)
    for old in store.dir.glob("lexical-*"):
        if old != lex_path:
            shutil.rmtree(old, ignore_errors=True)


def load(store: Store) -> Derived:
    """The current files, or an in-memory rebuild when they are missing or stale."""
    if not is_current(store):
        return build(store)
    vec_path, lex_path = _paths(store.dir, store.generation)
    return Derived(LexicalIndex.load(lex_path), VectorIndex.load(vec_path), store.generation)
