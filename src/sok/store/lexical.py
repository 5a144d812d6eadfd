"""BM25 over passages with Swedish stemming and stop words. Identifiers
(20RS10323, KFKS 2019/475, KS-2025-00970, 1177) are kept whole and
unstemmed, and also split into parts, so an exact case number outranks
passages that only share its year.

`tokenize` is the single source of terms for every backend. The app uses
tantivy (`TantivyIndex`, alias `LexicalIndex`): a persistent on-disk index
that takes adds and deletes, so a new file does not rebuild the index, and
that answers in milliseconds at 10^6 passages (benchmarks/lexical_scale.py).
`Bm25sIndex` (bm25s, in memory, rebuilt on every change) is kept for that
side-by-side benchmark."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import bm25s
import numpy as np
import Stemmer
import tantivy
from bm25s.stopwords import STOPWORDS_SWEDISH

_TOKEN = re.compile(r"\w+(?:[/\-.:]\w+)*")
_PART = re.compile(r"\w+")
_STOP = frozenset(STOPWORDS_SWEDISH)

# Bump when tokenize() or what is indexed per passage changes: every content
# key changes with it, so the next sync replaces every entry.
LEXICAL_VERSION = 1
# tantivy refuses terms longer than 65 530 bytes; nobody searches for a word this long.
_MAX_TERM_CHARS = 200


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


@lru_cache(maxsize=500_000)
def _terms_of(tok: str) -> tuple[str, ...]:
    """The terms of one casefolded token. Cached whole: words repeat (Zipf), so
    tokenizing a million passages costs mostly the regex scan, not stemming."""
    parts = _PART.findall(tok)
    out = [tok] if len(parts) > 1 and any(ch.isdigit() for ch in tok) else []
    out.extend(t for t in (_word_token(p) for p in parts) if t)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    """Casefolded, stemmed terms; compound identifiers yield themselves and their parts."""
    out: list[str] = []
    terms = _terms_of
    for tok in _TOKEN.findall(text.casefold().replace("\u00ad", "")):
        out.extend(terms(tok))
    return out


def content_key(*fields: str | None) -> int:
    """A signed 64-bit hash of what a passage's index entry is made from, so a
    sync can tell a changed passage from an unchanged one even if SQLite hands
    out a passage id again (it does after a schema migration drops the table)."""
    raw = "\x1f".join([str(LEXICAL_VERSION), *(f or "" for f in fields)]).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little", signed=True)


def _idf(n: int, df: int) -> float:
    # The weight relevance.QueryTerms gives a term; unseen terms get the maximum.
    return float(np.log((n + 1) / (df + 0.5)))


# --- tantivy (the app's backend) ----------------------------------------------------

def _schema() -> tantivy.Schema:
    """`terms`: our tokens joined by spaces, split again by tantivy's whitespace
    tokenizer (so tantivy never re-analyses them); frequencies only, since no
    phrase queries are made. `id`: the passage id, indexed for deletes and
    filters, fast for reading hits. `key`: the content key, fast, for syncing."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    sb.add_integer_field("id", indexed=True, fast=True)
    sb.add_integer_field("key", fast=True)
    return sb.build()


def _joined(text: str) -> str:
    return " ".join(t for t in tokenize(text) if len(t) <= _MAX_TERM_CHARS)


class TantivyIndex:
    """BM25 (k1 1.2, b 0.75) over a tantivy index, read from one fixed snapshot:
    commits made after opening are not seen until the caller loads again, so
    `ids` always matches what `search` can return."""

    def __init__(self, index: tantivy.Index, path: Path | None = None) -> None:
        self._index = index
        self.path = path
        self._schema = index.schema
        index.config_reader(reload_policy="manual")
        self._searcher = index.searcher()
        self._ids: np.ndarray | None = None

    # -- opening and building --
    @classmethod
    def open(cls, folder: Path, create: bool = False) -> "TantivyIndex":
        """The persistent index in `folder`; an empty one is made with `create`."""
        folder = Path(folder)
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            return cls(tantivy.Index(_schema(), path=str(folder), reuse=True), folder)
        return cls(tantivy.Index.open(str(folder)), folder)

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str], folder: Path | None = None,
              keys: Sequence[int] | None = None) -> "TantivyIndex":
        """A new index of these passages, in memory unless `folder` is given."""
        if folder is not None:
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(_schema(), path=str(folder) if folder else None, reuse=False)
        out = cls(index, folder)
        out.apply(adds=zip(ids, texts, keys if keys is not None else (content_key(t) for t in texts)))
        return out

    @classmethod
    def load(cls, folder: Path) -> "TantivyIndex":
        return cls.open(folder)

    # -- writing --
    def apply(self, adds: Iterable[tuple[int, str, int]] = (), deletes: Iterable[int] = (),
              heap_size: int = 256_000_000, tokenized: bool = False) -> int:
        """Delete these passage ids, then add (id, text, key) entries, in one
        commit; returns the number of entries added. An id being added is
        deleted first, so re-applying a batch after a crash cannot duplicate
        it. Nothing is visible to anyone until the commit, which is atomic.
        With `tokenized`, each text is already `tokenize`'s terms joined by
        spaces (the benchmark tokenizes once for both backends)."""
        writer = self._index.writer(heap_size=heap_size)
        added = 0
        try:
            for pid in deletes:
                writer.delete_documents_by_term("id", int(pid))
            for pid, text, key in adds:
                writer.delete_documents_by_term("id", int(pid))
                doc = tantivy.Document()
                doc.add_text("terms", text if tokenized else _joined(text))
                doc.add_integer("id", int(pid))
                doc.add_integer("key", int(key))
                writer.add_document(doc)
                added += 1
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        finally:
            del writer  # releases tantivy's writer lock
        self.reload()
        return added

    def reload(self) -> None:
        """Move to the latest commit."""
        self._index.reload()
        self._searcher = self._index.searcher()
        self._ids = None

    # -- reading --
    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, content keys) of every live entry, read from the fast fields."""
        n = self._searcher.num_docs
        if not n:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        hits = self._searcher.search(tantivy.Query.all_query(), n, count=False).hits
        addresses = [address for _, address in hits]
        ids = np.asarray(self._searcher.fast_field_values("id", addresses), dtype=np.int64)
        keys = np.asarray(self._searcher.fast_field_values("key", addresses), dtype=np.int64)
        return ids, keys

    @property
    def ids(self) -> np.ndarray:
        """Every passage id held, in a fixed order (the rows of `search`'s mask)."""
        if self._ids is None:
            self._ids = self.entries()[0]
        return self._ids

    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a tokenized term; unseen terms get the maximum."""
        n = len(self)
        df = self._searcher.doc_freq("terms", term) if n and len(term) <= _MAX_TERM_CHARS else 0
        return _idf(n, min(df, n))

    def search(self, query: str, k: int, mask: np.ndarray | None = None,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score). `mask` (over `ids`) or `allowed`
        (passage ids) limits the passages exactly: the top k are the best of
        the allowed, and an empty filter returns nothing."""
        if mask is not None:
            allowed = self.ids[np.asarray(mask, dtype=bool)]
        terms = [t for t in tokenize(query) if len(t) <= _MAX_TERM_CHARS]
        if not terms or k <= 0 or not len(self) or (allowed is not None and not len(allowed)):
            return []
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "terms", t)) for t in terms]
        )
        if allowed is None:
            return self._top(q, k)
        allowed = np.unique(np.asarray(allowed, dtype=np.int64))
        # Two exact ways to filter, each cheap where the other is not (measured in
        # benchmarks/lexical_scale.py): a term-set query on the id field costs in
        # proportion to the allowed ids; ranking unfiltered and keeping the allowed
        # costs in proportion to k * passages / allowed ids.
        if len(allowed) ** 2 <= k * len(self):
            only = tantivy.Query.term_set_query(self._schema, "id", allowed.tolist())
            q = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, q), (tantivy.Occur.Must, tantivy.Query.const_score_query(only, 0.0))]
            )
            return self._top(q, k)
        return self._top_allowed(q, k, allowed)

    def _top(self, q: tantivy.Query, k: int) -> list[tuple[int, float]]:
        hits = self._searcher.search(q, k, count=False).hits
        if not hits:
            return []
        ids = self._searcher.fast_field_values("id", [address for _, address in hits])
        return [(int(pid), float(score)) for (score, _), pid in zip(hits, ids) if score > 0]  # type: ignore[arg-type]

    def _top_allowed(self, q: tantivy.Query, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """The unfiltered ranking read deep enough to hold k allowed hits (or
        every match): its first k allowed entries are exactly the filtered top k."""
        limit = min(len(self), max(2 * k, int(1.5 * k * len(self) / len(allowed))))
        while True:
            hits = self._searcher.search(q, limit, count=False).hits
            ids = np.asarray(self._searcher.fast_field_values("id", [a for _, a in hits]), dtype=np.int64)
            pos = np.searchsorted(allowed, ids).clip(max=len(allowed) - 1)
            keep = np.flatnonzero(allowed[pos] == ids)
            if len(keep) >= k or len(hits) < limit or limit >= len(self):
                return [(int(ids[i]), float(hits[i][0])) for i in keep[:k] if hits[i][0] > 0]
            limit = min(len(self), limit * 4)


LexicalIndex = TantivyIndex


# --- bm25s (kept for the side-by-side benchmark) ----------------------------------

class Bm25sIndex:
    """BM25 scores for every passage in memory (bm25s); row i belongs to
    passage `ids[i]`. Rebuilt whole on any change."""

    def __init__(self, retriever: bm25s.BM25, ids: np.ndarray) -> None:
        self._bm25 = retriever
        self.ids = ids
        scores = getattr(retriever, "scores", None)
        # bm25s keeps one sparse column per vocabulary term: its length is the term's document frequency
        self._df = np.diff(scores["indptr"]) if scores else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a tokenized term; unseen terms get the maximum."""
        tid = self._bm25.vocab_dict.get(term) if len(self.ids) else None
        df = int(self._df[tid]) if tid is not None and tid < len(self._df) else 0
        return _idf(len(self.ids), df)

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str]) -> "Bm25sIndex":
        return cls.from_tokens(ids, [tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, ids: Sequence[int], token_lists: Sequence[list[str]]) -> "Bm25sIndex":
        """From `tokenize` output, so a benchmark can tokenize once for both backends."""
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        docs = [tokens or [""] for tokens in token_lists]
        if docs:
            retriever.index(docs, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if len(self.ids):
            self._bm25.save(str(folder))
        np.save(folder / "ids.npy", self.ids)

    @classmethod
    def load(cls, folder: Path) -> "Bm25sIndex":
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

    def search(self, query: str, k: int, mask: np.ndarray | None = None,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, score) with a positive score; `mask` or `allowed` limits the rows."""
        if allowed is not None and mask is None:
            mask = np.isin(self.ids, allowed)
        scores = self.scores(query)
        if mask is not None and len(scores):
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return []
        top = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        return [(int(self.ids[i]), float(scores[i])) for i in top]
