"""Is there anything in the material that answers the query? Each passage
gets an evidence score from two signals that fail in different ways:

- coverage: the share of the query's terms, weighted by inverse document
  frequency, that the passage (with its title and headings) contains, as
  words or as either end of a compound ("snöröjning" in "vintersnöröjningen"). A question about a concert hall in a corpus with no
  concert hall stays low however close the nearest passage is.
- dense margin: the passage's cosine to the query minus the mean cosine of
  the query's 11th-50th nearest passages. A passage that stands out from the
  crowd is about the question; e5 cosines alone sit in a narrow band
  (0.78-0.94 here) for relevant and unrelated passages alike.

evidence = coverage + margin_weight * margin. For English queries over
Swedish text coverage says nothing, so the margin carries the score alone.
Both signals are also features of the learned fusion (fusion.py), whose
calibrated score is the cut-off of hybrid search; this evidence rule stays
the cut-off of a single leg (`--mode lexical|dense|windows`). Its constants
were calibrated with `sok eval --cutoff` on the first dev sets plus
eval/calibration.jsonl (see the README)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from wordfreq import zipf_frequency

from sok.config import RELEVANCE, RelevanceConfig
from sok.store.lexical import tokenize


def is_english(query: str) -> bool:
    """English when its words are, on average, at least one Zipf unit (10x)
    more frequent in English than in Swedish (wordfreq). Names and Swedish
    words in an English sentence ("Who replaced Johan Tolinsson at the
    Kungsbacka ...") do not tip it; short keyword queries never count, so an
    identifier like "20RS10323" or "RFF fardtjanst" stays Swedish."""
    words = re.findall(r"[^\W\d_]+", query.casefold())
    if len(words) < 3:
        return False
    lean = sum(zipf_frequency(w, "en") - zipf_frequency(w, "sv") for w in words) / len(words)
    return lean >= 1.0


class HasIdf(Protocol):
    def idf(self, term: str) -> float: ...


@dataclass
class QueryTerms:
    """The query's terms with their weights, computed once per query."""

    weights: dict[str, float]
    english: bool

    @classmethod
    def of(cls, query: str, lexical: HasIdf) -> "QueryTerms":
        """`lexical`: a backend or a lexical index, anything that knows a term's IDF."""
        terms = dict.fromkeys(t for t in tokenize(query) if not t.isdigit() or len(t) >= 3)
        return cls({t: lexical.idf(t) for t in terms}, is_english(query))

    def coverage(self, text: str) -> float:
        return self.coverage_of(token_string(text))

    def coverage_of(self, tokens: str) -> float:
        """Coverage of a text given as its `token_string` (which a caller can cache)."""
        total = sum(self.weights.values())
        if not total:
            return 0.0
        return sum(w for t, w in self.weights.items() if _present(t, tokens)) / total


def token_string(text: str) -> str:
    """The text's distinct terms, each between two NUL characters, so that
    word, prefix and suffix tests are substring searches (C speed, not a
    Python loop over every token of every candidate)."""
    return "\0" + "\0".join(set(tokenize(text))) + "\0"


def _present(term: str, tokens: str) -> bool:
    """The term as a word, or (for terms of 5+ letters) as either end of a
    compound: "snöröjning" in "vintersnöröjning", "konserthall" in
    "konserthallsbygge"; a short stem like "plan" must stand alone."""
    if len(term) < 5:
        return f"\0{term}\0" in tokens
    return f"\0{term}" in tokens or f"{term}\0" in tokens


def background(dense_scores: list[float]) -> float:
    """The typical cosine of this query to unrelated passages."""
    tail = dense_scores[10:50] or dense_scores[-1:] or [0.0]
    return float(np.mean(tail))


def evidence(terms: QueryTerms, text: str, margin: float, cfg: RelevanceConfig = RELEVANCE) -> float:
    if terms.english:
        return cfg.english_margin_weight * margin
    return terms.coverage(text) + cfg.margin_weight * margin
