"""BM25 over passages with Swedish stemming and stop words (bm25s +
PyStemmer). Identifiers (20RS10323, KFKS 2019/475, KS-2025-00970, 1177) are
kept whole and unstemmed, and also split into parts, so an exact case number
outranks passages that only share its year."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_SWEDISH

_TOKEN = re.compile(r"\w+(?:[/\-.:]\w+)*")
_PART = re.compile(r"\w+")
_STOP = frozenset(STOPWORDS_SWEDISH)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("swedish")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def _word_token(word: str) -> str | None:
    if word in _STOP or (len(word) == 1 and not word.isdigit()):
        return None
    if any(ch.isdigit() for ch in word) or "_" in word:
        return word
    return _stem(word)


def tokenize(text: str) -> list[str]:
    """Casefolded, stemmed terms; compound identifiers yield themselves and their parts."""
    out: list[str] = []
    for match in _TOKEN.finditer(text.casefold().replace("\u00ad", "")):
        tok = match.group()
        parts = _PART.findall(tok)
        if len(parts) > 1 and any(ch.isdigit() for ch in tok):
            out.append(tok)
        out.extend(t for t in (_word_token(p) for p in parts) if t)
    return out


class LexicalIndex:
    """BM25 scores for every passage; row i belongs to passage `ids[i]`."""

    def __init__(self, retriever: bm25s.BM25, ids: np.ndarray) -> None:
        self._bm25 = retriever
        self.ids = ids
        scores = getattr(retriever, "scores", None)
        # bm25s keeps one sparse column per vocabulary term: its length is the term's document frequency
        self._df = np.diff(scores["indptr"]) if scores else np.zeros(0, dtype=np.int64)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a tokenized term; unseen terms get the maximum."""
        n = len(self.ids)
        tid = self._bm25.vocab_dict.get(term) if len(self.ids) else None
        df = int(self._df[tid]) if tid is not None and tid < len(self._df) else 0
        return float(np.log((n + 1) / (df + 0.5)))

    @classmethod
    def build(cls, ids: list[int], texts: list[str]) -> "LexicalIndex":
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        docs = [tokenize(t) or [""] for t in texts]
        if docs:
            retriever.index(docs, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if len(self.ids):
            self._bm25.save(str(folder))
        np.save(folder / "ids.npy", self.ids)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        ids = np.load(folder / "ids.npy")
        retriever = bm25s.BM25.load(str(folder)) if len(ids) else bm25s.BM25()
        return cls(retriever, ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no term is known)."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        known = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, score) with a positive score; `mask` limits the rows."""
        scores = self.scores(query)
        if mask is not None and len(scores):
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return []
        top = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        return [(int(self.ids[i]), float(scores[i])) for i in top]
