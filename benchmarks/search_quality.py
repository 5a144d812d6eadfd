"""Search quality out-of-fold: `sok eval --folds municipality` on the shared
corpus with every shared dev question, without and with the cut-off. Each
single leg, plain RRF (the earlier default) and the learned fusion are
reported overall and per kind of question; the fusion's figure that counts
is the out-of-fold one (the ranker refitted without the held-out
municipality), the in-sample one stands beside it for comparison.

The index is built with the default route into a cached folder
(SOK_BENCH_INDEX, else ~/.cache/sok/bench-index-NAME), so a second run
embeds nothing. Quick mode uses the bundled demo corpus and the questions
about it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sok.index import Index
from sok.query.evaluate import Question, evaluate_answers, evaluate_folds, load_questions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _questions(corpus: Path, quick: bool) -> list[Question]:
    files = sorted((SHARED / "eval").glob("*.jsonl"))
    questions = load_questions(files)
    if not quick:
        return questions
    # the demo corpus holds copies of some shared files: keep the questions answered there
    names = {p.name for p in corpus.rglob("*") if p.is_file()}
    sources = {}
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                sources[d["id"]] = [Path(s).name for s in d.get("source") or []]
    return [q for q in questions if sources.get(q.id) and all(s in names for s in sources[q.id])]


def bench_index(quick: bool = False) -> tuple[Path, Path]:
    """(corpus, index folder) of the benchmark index: SOK_BENCH_INDEX, else a
    cached folder per corpus, shared by the parts that search it."""
    name = "demo" if quick else "shared"
    index = Path(os.environ.get("SOK_BENCH_INDEX") or Path.home() / ".cache" / "sok" / f"bench-index-{name}")
    return (ROOT / "corpus" if quick else SHARED / "corpus"), index


def run(quick: bool = False) -> dict:
    corpus, index = bench_index(quick)
    t0 = time.perf_counter()
    front = Index(index)
    report = front.sync(corpus, progress=False)
    index_s = time.perf_counter() - t0
    questions = _questions(corpus, quick)
    searcher = front.searcher
    out = {"corpus": str(corpus), "passages": report.passages, "windows": report.windows, "index_s": round(index_s, 1),
           "questions": len(questions), "runs": {}}
    for cutoff in (False, True):
        t = time.perf_counter()
        result = evaluate_folds(searcher, questions, by="municipality", cutoff=cutoff)
        for run_ in (*result["legs"].values(), result["fused_oof"], result["fused_in_sample"]):
            run_.pop("questions", None)
            run_.pop("empty_questions", None)
        result["seconds"] = round(time.perf_counter() - t, 1)
        out["runs"]["cutoff" if cutoff else "plain"] = result
    t = time.perf_counter()
    answers = evaluate_answers(searcher, questions, by="municipality")
    answers.pop("questions", None)
    out["answers"] = {**answers, "seconds": round(time.perf_counter() - t, 1)}
    searcher.close()
    return out


_COLS = ("hit@1", "hit@5", "hit@10", "recall@5", "mrr@10")


def _rows(result: dict) -> dict[str, dict]:
    return {**{f"{k} (single leg)" if k != "rrf" else "RRF, the earlier default": v for k, v in result["legs"].items()},
            "**learned fusion, out-of-fold**": result["fused_oof"], "learned fusion, in-sample": result["fused_in_sample"]}


def markdown(r: dict) -> str:
    plain, cut = r["runs"]["plain"], r["runs"]["cutoff"]
    sizes = ", ".join(f"{k} {v}" for k, v in plain["fold_sizes"].items())
    lines = ["## Search quality (`sok eval --folds municipality`)", "",
             f"{r['questions']} questions of shared/eval over {r['corpus']} ({r['passages']} passages, "
             f"{r['windows']} sentence windows); folds by municipality ({sizes}). Out-of-fold: the ranker and its "
             "cut-off are fitted on the other municipalities' questions and the held-out one is scored. "
             f"Indexing the corpus took {r['index_s']} s (`sok index` with the default route; cold unless "
             "SOK_BENCH_INDEX points at an existing index).", "",
             "| ranking | n | " + " | ".join(_COLS) + " |", "|---|---:|" + "---:|" * len(_COLS)]
    for name, m in _rows(plain).items():
        o = m["overall"]
        lines.append(f"| {name} | {o['n']} | " + " | ".join(f"{o[c]:.3f}" for c in _COLS) + " |")
    kinds = list(plain["fused_oof"]["by_kind"])
    lines += ["", "hit@5 per kind of question:", "",
              "| ranking | " + " | ".join(f"{k} ({plain['fused_oof']['by_kind'][k]['n']})" for k in kinds) + " |",
              "|---|" + "---:|" * len(kinds)]
    for name, m in _rows(plain).items():
        lines.append(f"| {name} | " + " | ".join(f"{m['by_kind'].get(k, {}).get('hit@5', 0):.3f}" for k in kinds) + " |")
    lines += ["", "With the cut-off (`--cutoff`; single legs use the evidence rule of relevance.py, the fusion "
              "its calibrated score threshold):", "",
              "| ranking | hit@5 | MRR@10 | unanswerable left empty | answerable left empty |", "|---|---:|---:|---:|---:|"]
    for name, m in _rows(cut).items():
        e = m["expect_empty"]
        empty = f"{round(e['correctly_empty'] * e['n'])} of {e['n']}" if e["n"] else "-"
        lines.append(f"| {name} | {m['overall']['hit@5']:.3f} | {m['overall']['mrr@10']:.3f} | {empty} | "
                     f"{m['answerable_emptied']} of {m['overall']['n']} |")
    a = r.get("answers")
    if a:
        lines += ["", "### Answers (`sok eval --answers --folds municipality`)", "",
                  f"Out-of-fold: each municipality's questions are answered by `sok ask` with the passage ranker and "
                  f"the line scorer fitted on the other municipalities. Strict: one of the answer's own lines holds a "
                  f"gold string; lenient: a passage it cites does. {a['answerable']} answerable questions: strict "
                  f"**{a['strict_support']:.3f}**, lenient {a['support']:.3f}, {a['answered_empty_wrongly']} answered "
                  f"\"nothing\"; {a['expect_empty']} unanswerable"
                  + (f", answered \"nothing\" {a['correctly_empty']:.2f}." if a["expect_empty"] else "."), "",
                  "| kind | n | strict | lenient |", "|---|---:|---:|---:|"]
        for kind, k in a["per_kind"].items():
            lines.append(f"| {kind} | {k['n']} | {k['strict']:.3f} | {k['lenient']:.3f} |")
    return "\n".join(lines) + "\n"
