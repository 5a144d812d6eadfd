"""Warm search and ask latency on an existing index: the model and indexes
load once, then every eval question is asked and the median and p95 are
printed. Usage: python benchmarks/latency.py --index /tmp/fullidx"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sok.answer import ask
from sok.evaluate import load_questions
from sok.search import Searcher

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="index")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("files", nargs="*", default=[str(ROOT.parent / "shared/eval/dev.jsonl"),
                                                      str(ROOT.parent / "shared/eval/dev_real.jsonl")])
    args = parser.parse_args()
    t0 = time.perf_counter()
    searcher = Searcher(Path(args.index))
    searcher.search("uppvärmning")  # loads the model
    print(f"load: {time.perf_counter() - t0:.2f} s")
    questions = [q.question for q in load_questions([Path(f) for f in args.files])][: args.n]
    for name, fn in (("query embedding", lambda q: searcher.embedder.embed_query(q)),
                     ("search", lambda q: searcher.search(q, k=10)),
                     ("ask", lambda q: ask(searcher, q))):
        times = []
        for q in questions:
            t = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t)
        times.sort()
        print(f"{name:16s} median {1000 * statistics.median(times):7.1f} ms   "
              f"p95 {1000 * times[int(0.95 * (len(times) - 1))]:7.1f} ms   (n={len(times)})")


if __name__ == "__main__":
    main()
