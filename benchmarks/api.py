"""Search over HTTP: `sok api` serving the benchmark index (the one
search_quality built) on 127.0.0.1, every eval question sent to /api/sok
and /api/fraga over a real connection, one at a time; median and p95 of
the round trip, beside the same searches made in-process in the same run
(so the ratio is the HTTP layer's cost, whatever the machine's load).

    .venv/bin/python -m benchmarks.api
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.search_quality import bench_index
from sok.index import Index
from sok.query.evaluate import load_questions

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.loads(r.read())


def _stats(ts: list[float]) -> dict:
    ts = sorted(ts)
    return {"n": len(ts), "median_ms": round(1000 * statistics.median(ts), 1),
            "p95_ms": round(1000 * ts[int(0.95 * (len(ts) - 1))], 1)}


def run(quick: bool = False) -> dict:
    corpus, index = bench_index(quick)
    if not (index / "sok.sqlite").exists():
        Index(index).sync(corpus, progress=False)
    files = sorted((ROOT.parent / "shared" / "eval").glob("*.jsonl")) if not quick else []
    questions = [q.question for q in load_questions(files)] if files else ["SIP", "Fisksätraskolan", "budget"]
    questions = questions[: 10 if quick else 200]
    port = _port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "sok", "api", "--index", str(index), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"{base}/api/openapi.json")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    return {"skipped": "sok api did not start"}
                time.sleep(0.3)
        _get(f"{base}/api/sok?{urlencode({'q': 'uppvärmning'})}")  # the model loads on the first query
        searcher = Index(index).searcher
        searcher.search("uppvärmning")
        times: dict[str, list[float]] = {"http search": [], "in-process search": [], "http ask": []}
        for q in questions:
            t = time.perf_counter()
            _get(f"{base}/api/sok?{urlencode({'q': q})}")
            times["http search"].append(time.perf_counter() - t)
            t = time.perf_counter()
            searcher.query(q, k=10, cutoff=True)
            times["in-process search"].append(time.perf_counter() - t)
            t = time.perf_counter()
            _get(f"{base}/api/fraga?{urlencode({'q': q})}")
            times["http ask"].append(time.perf_counter() - t)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"index": str(index), "questions": len(questions), **{k: _stats(v) for k, v in times.items()}}


def markdown(result: dict) -> str:
    if "skipped" in result:
        return f"## Search over HTTP\n\nSkipped: {result['skipped']}."
    lines = ["## Search over HTTP", "", f"`sok api` on the benchmark index, {result['questions']} eval questions sent one at a time over "
             "HTTP on 127.0.0.1 (`/api/sok`, 10 hits with the cut-off; `/api/fraga`), beside the same search "
             "in-process, interleaved question by question.", "",
             "| call | n | median (ms) | p95 (ms) |", "|---|---:|---:|---:|"]
    for name in ("http search", "in-process search", "http ask"):
        s = result[name]
        lines.append(f"| {name} | {s['n']} | {s['median_ms']} | {s['p95_ms']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
