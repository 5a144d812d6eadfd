"""Warm search and ask latency on an existing index: the model and indexes
load once, then every eval question is asked and the median and p95 are
printed. The variants run interleaved question by question, so a noisy
machine slows them alike and their ratio holds: `search (rrf)` is the
earlier default (RRF of BM25 and dense), `search` today's learned fusion
with the sentence-window leg. Usage: python benchmarks/latency.py --index /tmp/fullidx"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sok.index import Index
from sok.query.answer import ask
from sok.query.evaluate import load_questions

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="index")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("files", nargs="*", default=[str(ROOT.parent / "shared/eval/dev.jsonl"),
                                                      str(ROOT.parent / "shared/eval/dev_real.jsonl")])
    args = parser.parse_args()
    t0 = time.perf_counter()
    searcher = Index(args.index).searcher
    searcher.search("uppvärmning")  # loads the model
    print(f"load: {time.perf_counter() - t0:.2f} s")
    questions = [q.question for q in load_questions([Path(f) for f in args.files])][: args.n]
    variants = {"query embedding": lambda q: searcher.embedder.embed_query(q),
                "search (rrf)": lambda q: searcher.search(q, k=10, mode="rrf"),
                "search": lambda q: searcher.search(q, k=10),
                "search --cutoff": lambda q: searcher.search(q, k=10, cutoff=True),
                "ask": lambda q: ask(searcher, q)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for q in questions:
            for name, fn in variants.items():
                t = time.perf_counter()
                fn(q)
                times[name].append(time.perf_counter() - t)
    for name, ts in times.items():
        ts.sort()
        print(f"{name:16s} median {1000 * statistics.median(ts):7.1f} ms   "
              f"p95 {1000 * ts[int(0.95 * (len(ts) - 1))]:7.1f} ms   (n={len(ts)})")
    ratio = statistics.median(times["search"]) / statistics.median(times["search (rrf)"])
    print(f"search / search (rrf): {ratio:.2f}x")


if __name__ == "__main__":
    main()
