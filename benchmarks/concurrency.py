"""Benchmark searches from many app sessions at once (issue 16).

Why: the app serves every browser session from one loaded searcher. While a
global lock serialised its use, three sessions sending 10,000-character
queries stalled a fourth user's ordinary question from 2.9 s to 86 s. Now a
query is at most 1,000 characters and searches run side by side (tantivy,
FAISS, SQLite in serialised mode and the query embedders release the GIL and
keep no per-call state; only a reload to a newer index generation takes the
lock). This part measures, in one run on one loaded searcher, what the app's
sessions call (`webapp.run_search`, threads standing in for sessions):

- an ordinary question alone, and while 1 or 3 other sessions send the
  longest query allowed back to back (on 2 cores, 3 busy sessions leave an
  ordinary question a share of the CPU, not a wait behind a lock);
- 1, 5 and 20 sessions asking dev questions at once: p50 and p95 per question.

It measures the engine under the app, not Streamlit's websocket layer.
Usage: python -m benchmarks.concurrency [--quick]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import run_part

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _index(quick: bool) -> Path:
    """The index search_quality builds (and caches), synced here too."""
    from benchmarks.search_quality import bench_index
    from sok.index import Index

    corpus, index = bench_index(quick)
    Index(index).sync(corpus, progress=False)
    return index


def _questions(n: int) -> list[str]:
    from sok.query.evaluate import load_questions

    files = sorted((SHARED / "eval").glob("dev*.jsonl"))
    return [q.question for q in load_questions(files) if not q.expect_empty][:n]


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]


def run(quick: bool = False) -> dict:
    from sok.config import SEARCH
    from sok.index import Index
    from sok.records import Filters
    from sok.ui import webapp as w

    searcher = Index(_index(quick)).searcher
    questions = _questions(8 if quick else 24)
    heavy = " ".join(questions * 20)[: SEARCH.max_query_chars]
    searcher.search(questions[0])  # the model and indexes loaded, as in a warm app
    def search(q: str) -> None:
        w.run_search(searcher, q, Filters())

    out: dict[str, Any] = {"questions": len(questions), "heavy_chars": len(heavy), "heavy": {}, "sessions": []}
    alone = [_timed(lambda q=q: search(q)) for q in questions]
    heavy_alone = statistics.median(_timed(lambda: search(heavy)) for _ in range(3))
    out["heavy"]["alone_ms"] = round(1000 * statistics.median(alone), 1)
    out["heavy"]["heavy_query_ms"] = round(1000 * heavy_alone, 1)
    for heavy_sessions in (1, 3):
        stop = threading.Event()

        def flood() -> None:
            while not stop.is_set():
                search(heavy)

        floods = [threading.Thread(target=flood) for _ in range(heavy_sessions)]
        for t in floods:
            t.start()
        time.sleep(0.2)
        during = [_timed(lambda q=q: search(q)) for q in questions]
        stop.set()
        for t in floods:
            t.join()
        out["heavy"][f"during_{heavy_sessions}_ms"] = round(1000 * statistics.median(during), 1)
        out["heavy"][f"during_{heavy_sessions}_ratio"] = round(statistics.median(during) / statistics.median(alone), 2)
    for n in (1, 5) if quick else (1, 5, 20):
        times: list[float] = []
        mutex = threading.Lock()

        def session(offset: int) -> None:
            mine = [_timed(lambda q=q: search(q)) for q in questions[offset:] + questions[:offset]]
            with mutex:
                times.extend(mine)

        threads = [threading.Thread(target=session, args=(i % len(questions),)) for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        out["sessions"].append({"sessions": n, "questions": len(times), "p50_ms": round(1000 * _pct(times, 0.5), 1),
                                "p95_ms": round(1000 * _pct(times, 0.95), 1),
                                "questions_per_s": round(len(times) / wall, 1)})
    return out


def markdown(result: dict) -> str:
    h = result["heavy"]
    lines = ["## Concurrent sessions (the app's engine)", "",
             f"One loaded searcher, as the app holds it; threads stand in for browser sessions and call what a "
             f"session calls (`webapp.run_search`). {result['questions']} dev questions; the heavy query is "
             f"{result['heavy_chars']} characters, the most allowed.", "",
             "| an ordinary question | median ms | x alone |", "|---|---:|---:|",
             f"| alone | {h['alone_ms']} | 1.00 |",
             f"| while 1 other session sends heavy queries back to back | {h['during_1_ms']} | {h['during_1_ratio']} |",
             f"| while 3 other sessions send heavy queries back to back | {h['during_3_ms']} | {h['during_3_ratio']} |",
             "",
             f"A heavy query alone: {h['heavy_query_ms']} ms.", "",
             "| sessions at once | questions | p50 ms | p95 ms | questions/s |", "|---:|---:|---:|---:|---:|"]
    for s in result["sessions"]:
        lines.append(f"| {s['sessions']} | {s['questions']} | {s['p50_ms']} | {s['p95_ms']} | {s['questions_per_s']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return run_part(__doc__ or "", run, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())
