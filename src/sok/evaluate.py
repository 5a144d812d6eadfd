"""The evaluation rule of DESIGN.md: a passage is relevant when, casefolded,
with whitespace collapsed and soft hyphens dropped, it contains one of the
question's answer strings."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .search import Searcher


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "").casefold()).strip()


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    kind: str
    expect_empty: bool


def load_questions(paths: list[Path]) -> list[Question]:
    out = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                out.append(Question(d["id"], d["question"], d.get("answers", []), d.get("kind", ""), bool(d.get("expect_empty"))))
    return out


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


def evaluate_answers(searcher: Searcher, questions: list[Question]) -> dict:
    """Answer support: for answerable questions, do the passages the answer
    cites contain a gold answer string? For expect_empty ones, is the answer
    "no answer"?"""
    from .answer import ask

    rows = []
    for q in questions:
        answer = ask(searcher, q.question)
        cited = searcher.store.passages([s.passage_id for s in answer.sources])
        supported = judge([r["text"] for r in cited.values()], q.answers)[0] is not None if q.answers else False
        rows.append({"id": q.id, "question": q.question, "expect_empty": q.expect_empty,
                     "no_answer": answer.no_answer, "supported": supported, "sources": len(answer.sources)})
    answerable = [r for r in rows if not r["expect_empty"]]
    empty = [r for r in rows if r["expect_empty"]]
    return {
        "answerable": len(answerable),
        "support": sum(r["supported"] for r in answerable) / len(answerable) if answerable else None,
        "answered_empty_wrongly": sum(r["no_answer"] for r in answerable),
        "expect_empty": len(empty),
        "correctly_empty": sum(r["no_answer"] for r in empty) / len(empty) if empty else None,
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
    rows, empty = [], []
    for q in questions:
        hits = searcher.search(q.question, k=max(k, 10), mode=mode, cutoff=cutoff)
        best = max((h.evidence for h in hits), default=0.0)
        if q.expect_empty:
            empty.append({"id": q.id, "question": q.question, "answered_empty": not hits, "best_evidence": best})
            continue
        rank, answer_ranks = judge([h.text for h in hits], q.answers)
        rows.append({"id": q.id, "kind": q.kind, "question": q.question, "rank": rank, "answer_ranks": answer_ranks,
                     "best_evidence": best, "top": [f"{h.file} {h.pages_label}" for h in hits[:3]]})
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
        "questions": rows,
        "empty_questions": empty,
    }
