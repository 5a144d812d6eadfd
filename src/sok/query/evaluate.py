"""The evaluation rule of DESIGN.md: a passage is relevant when, casefolded,
with whitespace collapsed and soft hyphens dropped, it contains one of the
question's answer strings."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sok.query.fusion import FEATURES, LinearRanker, features
from sok.query.search import Searcher


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "").casefold()).strip()


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    kind: str
    expect_empty: bool
    file: str = ""  # the question file's name, without .jsonl
    municipality: str | None = None  # first folder of its first source file


def load_questions(paths: list[Path]) -> list[Question]:
    out = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                source = (d.get("source") or [""])[0]
                out.append(Question(d["id"], d["question"], d.get("answers", []), d.get("kind", ""),
                                    bool(d.get("expect_empty")), Path(path).stem,
                                    source.split("/")[0] if "/" in source else None))
    return out


FOLDINGS = ("municipality", "file")


def folds_of(questions: list[Question], by: str = "municipality") -> list[str]:
    """The fold of each question. By municipality, so no fold is tuned on
    questions about its own documents; a question without a source (one the
    material cannot answer) goes with the municipality most of its file's
    questions are about."""
    if by == "file":
        return [q.file for q in questions]
    majority: dict[str, Counter] = defaultdict(Counter)
    for q in questions:
        if q.municipality:
            majority[q.file][q.municipality] += 1
    return [q.municipality or (majority[q.file].most_common(1)[0][0] if majority[q.file] else q.file) for q in questions]


def judge(texts: list[str], answers: list[str]) -> tuple[int | None, list[int | None]]:
    """(1-based rank of the first relevant passage, first rank of each answer)."""
    norm_answers = [normalize(a) for a in answers]
    first_each: list[int | None] = [None] * len(answers)
    for rank, text in enumerate(texts, start=1):
        t = normalize(text)
        for i, a in enumerate(norm_answers):
            if first_each[i] is None and a in t:
                first_each[i] = rank
    found = [r for r in first_each if r is not None]
    return (min(found) if found else None), first_each


def line_training_data(searcher: Searcher, questions: list[Question]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(line features, holds a gold string) of the candidate lines of each
    answerable question, from the hits `sok ask` would answer from: the line
    scorer's training material (empty arrays for expect_empty questions)."""
    from sok.query.answer import LINE_FEATURES, answer_hits, candidates_of, line_features
    from sok.query.relevance import QueryTerms

    out = []
    for q in questions:
        hits = [] if q.expect_empty else answer_hits(searcher, q.question)
        cands = candidates_of(hits)
        if not cands:
            out.append((np.zeros((0, len(LINE_FEATURES))), np.zeros(0, dtype=bool)))
            continue
        answers = [normalize(a) for a in q.answers]
        x = line_features(searcher, q.question, QueryTerms.of(q.question, searcher.backend), cands)
        out.append((x, np.array([any(a in normalize(c.text) for a in answers) for c in cands])))
    return out


LINE_FLOOR_BUDGET = 0.1


def fit_lines(data: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.1) -> LinearRanker:
    """The line scorer; its `passage_threshold` is the floor below which a
    line is not added after each lead passage's best: at most 10% of the
    questions' best gold lines fall under it, which keeps answers as long as
    the hand-set rule before it made them (BENCHMARKS.md, Answers)."""
    from sok.query.answer import LINE_FEATURES

    xs, ys = [x for x, _ in data], [y for _, y in data]
    return LinearRanker.fit(xs, ys, l2, names=LINE_FEATURES).calibrate(xs, ys, LINE_FLOOR_BUDGET)


def evaluate_answers(searcher: Searcher, questions: list[Question], by: str | None = None, l2: float = 0.1) -> dict:
    """Answer support, two ways, for answerable questions: strict (one of the
    answer's own lines contains a gold string: what a reader sees) and
    lenient (a passage the answer cites does). For expect_empty questions:
    is the answer "no answer"? With `by` (a folding of `folds_of`), each
    fold is answered with a passage ranker and a line scorer fitted on the
    other folds only, so the figures are out-of-fold like `evaluate_folds`."""
    from sok.query.answer import ask

    def answer_all(qs: list[Question], lines: LinearRanker | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for q in qs:
            answer = ask(searcher, q.question, lines=lines)
            cited = searcher.backend.passages([s.passage_id for s in answer.sources])
            lenient = bool(q.answers) and judge([r["text"] for r in cited.values()], q.answers)[0] is not None
            strict = bool(q.answers) and judge([s.text for s in answer.sentences], q.answers)[0] is not None
            out.append({"id": q.id, "question": q.question, "kind": q.kind, "expect_empty": q.expect_empty,
                        "no_answer": answer.no_answer, "supported": lenient, "strict": strict,
                        "lines": len(answer.sentences), "sources": len(answer.sources)})
        return out

    rows: list[dict[str, Any]] = []
    if by is None:
        rows = answer_all(questions)
    else:
        folds = folds_of(questions, by)
        data = training_data(searcher, questions)
        line_data = line_training_data(searcher, questions)  # lines of the shipped ranker's hits; labels per fold below
        shipped = searcher.ranker
        try:
            for fold in sorted(set(folds)):
                searcher.ranker = _fit([d for d, f in zip(data, folds) if f != fold], l2)
                lines = fit_lines([d for d, f in zip(line_data, folds) if f != fold], l2)
                rows += answer_all([q for q, f in zip(questions, folds) if f == fold], lines)
        finally:
            searcher.ranker = shipped
    answerable = [r for r in rows if not r["expect_empty"]]
    empty = [r for r in rows if r["expect_empty"]]
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in answerable:
        kinds[r["kind"]].append(r)

    def share(rs: list[dict[str, Any]], key: str) -> float | None:
        return sum(r[key] for r in rs) / len(rs) if rs else None

    return {
        "folds": by,
        "answerable": len(answerable),
        "support": share(answerable, "supported"),
        "strict_support": share(answerable, "strict"),
        "per_kind": {kind: {"n": len(rs), "strict": share(rs, "strict"), "lenient": share(rs, "supported")}
                     for kind, rs in sorted(kinds.items())},
        "answered_empty_wrongly": sum(r["no_answer"] for r in answerable),
        "expect_empty": len(empty),
        "correctly_empty": share(empty, "no_answer"),
        "questions": rows,
    }


def _metrics(rows: list[dict], k: int) -> dict:
    n = len(rows)
    if not n:
        return {"n": 0}
    def hit(c: int) -> float:
        return sum(1 for r in rows if r["rank"] is not None and r["rank"] <= c) / n
    recall = sum(
        sum(1 for a in r["answer_ranks"] if a is not None and a <= 5) / max(1, len(r["answer_ranks"])) for r in rows
    ) / n
    mrr = sum(1.0 / r["rank"] for r in rows if r["rank"] is not None and r["rank"] <= 10) / n
    return {"n": n, "hit@1": hit(1), "hit@5": hit(5), "hit@10": hit(10), f"hit@{k}": hit(k),
            "recall@5": recall, "mrr@10": mrr}


def evaluate(searcher: Searcher, questions: list[Question], k: int = 10, mode: str = "hybrid", cutoff: bool = False) -> dict:
    """Ranking metrics; with `cutoff`, hits below the relevance threshold are
    dropped first, so expect_empty questions can be answered with nothing."""
    rows, empty = _judge_all(searcher, questions, k, mode, cutoff)
    return summarize(rows, empty, k, mode, cutoff)


def _judge_all(searcher: Searcher, questions: list[Question], k: int, mode: str, cutoff: bool) -> tuple[list[dict], list[dict]]:
    rows, empty = [], []
    for q in questions:
        hits = searcher.search(q.question, k=max(k, 10), mode=mode, cutoff=cutoff)
        best = max((h.evidence for h in hits), default=0.0)
        if q.expect_empty:
            empty.append({"id": q.id, "question": q.question, "answered_empty": not hits, "best_evidence": best})
            continue
        rank, answer_ranks = judge([h.text for h in hits], q.answers)
        rows.append({"id": q.id, "kind": q.kind, "question": q.question, "rank": rank, "answer_ranks": answer_ranks,
                     "emptied": not hits,
                     "best_evidence": best, "top": [f"{h.file} {h.pages_label}" for h in hits[:3]]})
    return rows, empty


def summarize(rows: list[dict], empty: list[dict], k: int, mode: str, cutoff: bool) -> dict:
    by_kind = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    return {
        "mode": mode,
        "cutoff": cutoff,
        "overall": _metrics(rows, k),
        "by_kind": {kind: _metrics(rs, k) for kind, rs in sorted(by_kind.items())},
        "expect_empty": {
            "n": len(empty),
            "correctly_empty": (sum(e["answered_empty"] for e in empty) / len(empty)) if empty else None,
        },
        "answerable_emptied": sum(1 for r in rows if r.get("emptied")),
        "questions": rows,
        "empty_questions": empty,
    }


LEGS = ("lexical", "dense", "windows", "rrf")


def training_data(searcher: Searcher, questions: list[Question]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, relevant) of the hybrid candidates of each question, the
    ranker's training material (empty arrays for expect_empty questions)."""
    out = []
    for q in questions:
        ranking = searcher.rank(q.question)
        legs, rows = ranking.legs, ranking.rows or {}
        if q.expect_empty or legs is None or not len(legs.ids):
            out.append((np.zeros((0, len(FEATURES))), np.zeros(0, dtype=bool)))
            continue
        answers = [normalize(a) for a in q.answers]
        relevant = np.array([pid in rows and any(a in normalize(rows[pid]["text"]) for a in answers)
                             for pid in legs.ids.tolist()])
        out.append((features(legs), relevant))
    return out


def fit_ranker(searcher: Searcher, questions: list[Question], l2: float = 0.1) -> tuple[LinearRanker, LinearRanker]:
    """The passage ranker with its cut-off, and then, on the hits it gives,
    the answer's line scorer, both fitted on these questions."""
    ranker = _fit(training_data(searcher, questions), l2)
    shipped, searcher.ranker = searcher.ranker, ranker
    try:
        return ranker, fit_lines(line_training_data(searcher, questions), l2)
    finally:
        searcher.ranker = shipped


def _fit(data: list[tuple[np.ndarray, np.ndarray]], l2: float) -> LinearRanker:
    xs, ys = [x for x, _ in data], [y for _, y in data]
    return LinearRanker.fit(xs, ys, l2).calibrate(xs, ys)


def evaluate_folds(searcher: Searcher, questions: list[Question], by: str = "municipality", k: int = 10,
                   cutoff: bool = False, l2: float = 0.1) -> dict:
    """Out-of-fold: for each fold, the ranker is fitted on the other folds'
    questions and the fold is scored with it, through the same search path
    users get. Beside it: each single leg, plain RRF (the earlier default),
    and the ranker fitted on all questions (in-sample, for comparison only)."""
    folds = folds_of(questions, by)
    data = training_data(searcher, questions)
    shipped = searcher.ranker
    rows: list[dict] = []
    empty: list[dict] = []
    per_fold = {}
    try:
        for fold in sorted(set(folds)):
            train = [i for i, f in enumerate(folds) if f != fold]
            held = [q for q, f in zip(questions, folds) if f == fold]
            searcher.ranker = _fit([data[i] for i in train], l2)
            r, e = _judge_all(searcher, held, k, "hybrid", cutoff)
            rows += r
            empty += e
            per_fold[fold] = len(held)
        searcher.ranker = _fit(data, l2)
        in_sample = evaluate(searcher, questions, k, "hybrid", cutoff)
    finally:
        searcher.ranker = shipped
    return {
        "folds": by, "fold_sizes": per_fold,
        "legs": {mode: evaluate(searcher, questions, k, mode, cutoff) for mode in LEGS},
        "fused_oof": summarize(rows, empty, k, "hybrid", cutoff),
        "fused_in_sample": in_sample,
    }
