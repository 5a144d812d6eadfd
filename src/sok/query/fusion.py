"""How the retrieval legs are combined: a small learned ranker.

Reciprocal rank fusion gives every leg the same vote whatever the query, so
an English question (the lexical leg matches only names and noise) or a
paraphrase (no shared words) is drowned by weak lexical matches. Here each
candidate from any leg gets features that both legs already compute (the
dense cosines and their margin over the query's background, the best
sentence window, BM25 relative to the query's best, IDF-weighted coverage of
the query's terms, exact identifiers, the query's language), with
interactions that let the model learn when a leg has nothing to say (low
lexical coverage: trust the dense legs). A logistic regression over them
ranks the candidates; it is fitted by `sok eval --fit-ranker` on labelled
questions and shipped as `ranker.json`. The figures that justify it, and
the ideas that were dropped, are in BENCHMARKS.md ("Search quality"): all
out-of-fold, since `sok eval --folds` refits it without the held-out fold."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RANKER_FILE = Path(__file__).with_name("ranker.json")
DEPTH = 100  # rank given to a candidate a leg did not return; ranks are capped here
MARGIN_SCALE = 10.0  # cosine margins (~0.01-0.1) brought near the other features' range

FEATURES = (
    "dense_margin", "dense_rank", "lexical_score", "lexical_rank", "coverage",
    "english_dense_margin", "english_lexical_score", "english_coverage", "identifier",
    "window_margin", "window_rank", "english_window_margin",
    "uncovered_dense_margin", "uncovered_lexical_score", "coverage_lexical_score", "uncovered_window_margin",
    "toc",
)


@dataclass
class Legs:
    """What every leg says about each candidate passage (arrays aligned with `ids`)."""

    ids: np.ndarray
    cosine: np.ndarray  # passage vector vs query
    window_cosine: np.ndarray  # best sentence window vs query
    bm25: np.ndarray  # 0 where no query term matches
    dense_rank: np.ndarray  # 0-based; DEPTH where the leg did not return it
    window_rank: np.ndarray
    lexical_rank: np.ndarray
    coverage: np.ndarray  # relevance.QueryTerms.coverage of the passage with its title and headings
    identifier: np.ndarray  # every identifier of the query verbatim in the passage (False without any)
    toc: np.ndarray  # language.toc_share of the passage: an agenda's index matches words, answers nothing
    background: float  # typical cosine of the query to unrelated passages
    window_background: float
    english: bool


def features(legs: Legs) -> np.ndarray:
    """One row per candidate, columns as FEATURES."""
    n = len(legs.ids)
    if not n:
        return np.zeros((0, len(FEATURES)))
    cos = np.where(np.isnan(legs.cosine), legs.background, legs.cosine)
    wcos = np.where(np.isnan(legs.window_cosine), legs.window_background, legs.window_cosine)
    margin = (cos - legs.background) * MARGIN_SCALE
    wmargin = (wcos - legs.window_background) * MARGIN_SCALE
    best = float(legs.bm25.max())
    lexical = legs.bm25 / best if best > 0 else np.zeros(n)
    english = float(legs.english)
    uncovered = 1.0 - float(legs.coverage.max())
    rank = lambda r: -np.log1p(np.minimum(r, DEPTH))  # noqa: E731
    return np.column_stack([
        margin, rank(legs.dense_rank), lexical, rank(legs.lexical_rank), legs.coverage,
        english * margin, english * lexical, english * legs.coverage, legs.identifier.astype(float),
        wmargin, rank(legs.window_rank), english * wmargin,
        uncovered * margin, uncovered * lexical, legs.coverage * lexical, uncovered * wmargin,
        legs.toc,
    ]).astype(np.float64)


@dataclass
class LinearRanker:
    """score = weights · features + bias, a log-odds that the passage answers.
    The cut-off (`calibrate`) has two levels: a question whose best passage
    scores below `threshold` gets nothing; otherwise every passage scoring at
    least `passage_threshold` is kept."""

    weights: np.ndarray
    bias: float
    l2: float = 0.1
    threshold: float = -math.inf
    passage_threshold: float = -math.inf
    margin: float = math.inf  # a kept passage scores at most this far below the question's best
    names: tuple[str, ...] = FEATURES  # what each weight is for; the answer's line scorer has its own

    def score(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias if len(x) else np.zeros(0)

    @classmethod
    def fit(cls, xs: list[np.ndarray], ys: list[np.ndarray], l2: float = 0.1, iterations: int = 30,
            names: tuple[str, ...] = FEATURES) -> "LinearRanker":
        """L2-regularised logistic regression by Newton's method, each question
        weighing the same however many candidates it has. Questions without a
        relevant candidate teach nothing about ranking and are left out."""
        use = [(x, y) for x, y in zip(xs, ys) if len(y) and y.any()]
        if not use:
            raise ValueError("inga frågor med en relevant kandidat att lära av")
        x = np.hstack([np.vstack([u for u, _ in use]), np.ones((sum(len(v) for _, v in use), 1))])
        y = np.concatenate([v for _, v in use]).astype(np.float64)
        sample = np.concatenate([np.full(len(v), 100.0 / len(v)) for _, v in use])
        penalty = np.r_[np.full(x.shape[1] - 1, l2), 0.0]  # the bias is not shrunk
        w = np.zeros(x.shape[1])
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
            grad = x.T @ (sample * (p - y)) + penalty * w
            hess = (x * (sample * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
            step = np.linalg.solve(hess, grad)
            w -= step
            if float(np.abs(step).max()) < 1e-8:
                break
        return cls(w[:-1], float(w[-1]), l2, names=names)

    @classmethod
    def untrained(cls, names: tuple[str, ...] = FEATURES) -> "LinearRanker":
        """All weights zero: a placeholder for runs that fit their own ranker."""
        return cls(np.zeros(len(names)), 0.0, names=names)

    def to_json(self) -> dict:
        return {"features": list(self.names), "weights": [round(float(v), 6) for v in self.weights],
                "bias": round(self.bias, 6), "l2": self.l2, "threshold": round(self.threshold, 6),
                "passage_threshold": round(self.passage_threshold, 6),
                "margin": round(self.margin, 6) if math.isfinite(self.margin) else None}

    @classmethod
    def from_json(cls, data: dict, names: tuple[str, ...] = FEATURES) -> "LinearRanker":
        if tuple(data["features"]) != names:
            raise ValueError("rankningsmodellen har andra särdrag än den här versionen: kör  sok eval --fit-ranker")
        return cls(np.asarray(data["weights"], dtype=np.float64), float(data["bias"]), float(data.get("l2", 0.1)),
                   float(data.get("threshold", -math.inf)), float(data.get("passage_threshold", -math.inf)),
                   float(data["margin"]) if data.get("margin") is not None else math.inf, names)

    def calibrate(self, xs: list[np.ndarray], ys: list[np.ndarray], budget: float = 0.03) -> "LinearRanker":
        """Set both cut-offs so that at most `budget` of these answerable
        questions lose every hit (`threshold`, from each question's best
        candidate) and at most `budget` lose their best relevant passage
        (`passage_threshold`, from each question's best relevant candidate).
        What the cut-off then leaves empty among questions the material
        cannot answer is measured out-of-fold by `sok eval --folds --cutoff`."""
        scored = [(self.score(x), y) for x, y in zip(xs, ys) if len(y) and y.any()]
        if scored:
            self.threshold = _quantile_cut([float(s.max()) for s, _ in scored], budget)
            self.passage_threshold = min(self.threshold, _quantile_cut([float(s[y].max()) for s, y in scored], budget))
            # how far below the best its best relevant passage falls: at most `budget` fall further
            gaps = sorted(float(s.max() - s[y].max()) for s, y in scored)
            self.margin = gaps[min(len(gaps) - 1, int(math.ceil((1 - budget) * len(gaps))))] + 1e-6
        return self

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


def load_ranker(path: Path = RANKER_FILE) -> LinearRanker:
    return LinearRanker.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def _quantile_cut(values: list[float], budget: float) -> float:
    """A cut with int(budget * n) of the values below it, halfway between the
    values just below and just above (below all of them when none may fall)."""
    v = np.sort(values)
    lost = int(budget * len(v))
    return float(v[0] - 0.5 if lost == 0 else (v[lost - 1] + v[lost]) / 2)
