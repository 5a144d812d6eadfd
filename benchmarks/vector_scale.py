"""Vector search at 10k, 100k and 1M passages (dim 384): the exact flat
store against the approximate tiers, so the size at which sok.store.vectors leaves
exact search, and the parameters of its IVF tier, rest on figures measured on
the machine at hand.

Two synthetic data sets, because neither alone tells the truth:
- "uniform": random unit vectors. Latency and memory are representative, but
  recall is a worst case: in 384 dimensions uniform points have no
  neighbourhoods (a query's 10th and 11th best cosines differ by ~0.001), so
  no partitioning or graph index finds them without scanning most of the data.
- "e5like": vectors shaped like real multilingual-e5 passage embeddings. On the
  2,031 real passages of shared/corpus (index in /tmp/fullidx3), e5 vectors
  share a strong common direction (norm of the mean 0.92, mean pairwise
  cosine 0.85) and a residual whose variance decays over ~180 dimensions
  (90 %); the generator reproduces those figures (0.93, 0.86, 226 dims) with
  topics and subtopics, and its queries are fresh draws from the same
  distribution. Recall targets are judged on this set. When a real index is
  present (SOK_REAL_INDEX or /tmp/fullidx3/sok.sqlite) its statistics are
  printed next to the generator's, to check the resemblance; the benchmark
  itself never needs it.

Per size, one subprocess builds every index type and saves it; then one fresh
subprocess per index type loads the saved file and searches, so its peak RSS
(VmHWM) is what a search process holds. Latency is per single query (k=100,
the depth Searcher asks for), after the query is embedded; recall@10 is
against exact search. Filtered searches (1 % and 50 % of passages allowed) are
timed and checked to equal exact search over the allowed vectors. The hybrid
figure adds the lexical leg (sok.store.lexical's tantivy backend, else bm25s) over
synthetic texts of the same size and RRF fusion.

    .venv/bin/python -m benchmarks.vector_scale [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

DIM = 384
FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000,)
SWEEP_SIZES = (20_000, 50_000)  # flat vs ivf only, to place the exact limit
HNSW_MAX = 10_000  # see plan()
DATASETS = ("e5like", "uniform")
REAL_INDEX = Path(os.environ.get("SOK_REAL_INDEX", "/tmp/fullidx3/sok.sqlite"))


# ---- data -------------------------------------------------------------------------------

def uniform(n: int, seed: int) -> np.ndarray:
    """Random unit vectors: the pessimistic case for approximate recall."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):
        x = rng.standard_normal((min(n, s + 100_000) - s, DIM), dtype=np.float32)
        out[s:s + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def e5like(n: int, seed: int, topics: int = 2000, subtopics: int = 8) -> np.ndarray:
    """Unit vectors with real e5 statistics (module docstring): a shared mean
    direction, a residual with a decaying spectrum, topics and subtopics. The
    space (mean, spectrum, topics) is fixed; `seed` draws points in it."""
    space = np.random.default_rng(12345)
    mean = space.standard_normal(DIM).astype(np.float32)
    mean /= np.linalg.norm(mean)
    spectrum = (np.arange(1, DIM + 1) ** -0.4).astype(np.float32)
    basis = np.linalg.qr(space.standard_normal((DIM, DIM)))[0].astype(np.float32)
    centers = space.standard_normal((topics, DIM)).astype(np.float32) * spectrum
    sub = centers[:, None, :] + 0.6 * space.standard_normal((topics, subtopics, DIM)).astype(np.float32) * spectrum
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):
        m = min(n, s + 100_000) - s
        r = sub[rng.integers(0, topics, m), rng.integers(0, subtopics, m)]
        r = (r + 0.7 * rng.standard_normal((m, DIM)).astype(np.float32) * spectrum) @ basis.T
        r /= np.linalg.norm(r, axis=1, keepdims=True)
        x = 2.5 * mean + r
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def shape_stats(x: np.ndarray) -> dict:
    """The figures the e5like generator was fitted to, for a sample of <= 2,000 vectors."""
    x = x[:2000]
    sims = x @ x.T
    np.fill_diagonal(sims, -2)
    off = sims[sims > -2]
    top = -np.sort(-sims, axis=1)
    sv = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    return {"n": len(x), "mean_norm": round(float(np.linalg.norm(x.mean(0))), 3),
            "pair_cos": round(float(off.mean()), 3), "top1_cos": round(float(top[:, 0].mean()), 3),
            "dims_90pct": int(np.searchsorted(np.cumsum(sv / sv.sum()), 0.9))}


def real_stats() -> dict | None:
    """Statistics of real e5 vectors when an index is at hand, else None."""
    if not REAL_INDEX.exists():
        return None
    import sqlite3
    db = sqlite3.connect(f"file:{REAL_INDEX}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT vector FROM embeddings LIMIT 2000").fetchall()
    finally:
        db.close()
    vecs = [np.frombuffer(r[0], np.float32) for r in rows]
    vecs = [v for v in vecs if len(v) == DIM]
    return shape_stats(np.stack(vecs)) if len(vecs) > 100 else None


def dataset(name: str, n: int, seed: int) -> np.ndarray:
    return e5like(n, seed) if name == "e5like" else uniform(n, seed)


_SYLLABLES = ["ba", "be", "bo", "da", "de", "dö", "fa", "fi", "ga", "gö", "ha", "he", "ja", "jo", "ka", "ke", "kö",
              "la", "le", "lä", "ma", "me", "mö", "na", "ne", "nä", "pa", "pe", "ra", "re", "rö", "sa", "se", "sk",
              "st", "ta", "te", "tö", "va", "ve", "vä", "å", "ä", "ö", "ning", "het", "lig", "skap", "else"]


def synthetic_texts(n: int, seed: int, words: int = 40, vocab: int = 60_000) -> tuple[list[str], list[str], str]:
    """n passages of `words` words and the queries for the lexical leg, and
    where they came from. With the lexical part's helpers (benchmarks/
    lexical_scale.py: word frequencies of the real corpus, the eval
    questions), those; else a Zipf draw from Swedish-looking synthetic words.
    40 words is about a quarter of a real passage, to keep the 1M build near
    two minutes: posting lists are shorter than real, so this lexical leg is
    on the fast side; the lexical section has the realistic figures."""
    rng = np.random.default_rng(seed)
    try:
        from benchmarks.lexical_scale import _questions, _vocabulary

        forms, p = _vocabulary()
        queries = _questions()
        lex, source = np.array(forms, dtype=object), "real corpus word frequencies, eval questions"
        if not queries:
            raise ImportError("no eval questions")
    except Exception:  # noqa: BLE001 - the other part is optional here
        space = np.random.default_rng(777)
        lex = sorted({"".join(space.choice(_SYLLABLES, space.integers(2, 5))) for _ in range(vocab * 2)})[:vocab]
        lex = np.array(lex)
        space.shuffle(lex)
        p = 1.0 / np.arange(1, len(lex) + 1) ** 1.05
        p /= p.sum()
        queries = [" ".join(lex[rng.integers(50, 5000, rng.integers(3, 5))]) for _ in range(200)]
        source = "synthetic Zipf words"
    texts: list[str] = []
    for start in range(0, n, 100_000):
        draws = rng.choice(len(lex), size=(min(n, start + 100_000) - start, words), p=p)
        texts += [" ".join(lex[row]) for row in draws]
    return texts, queries, source


# ---- children (one process each, so peak RSS belongs to one job) --------------------------

def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def child_build(folder: Path, n: int, data: str, types: list[str]) -> dict:
    """Generate the data, exact ground truth, every index type; save them."""
    import faiss

    from sok.store.vectors import VECTORS, VectorIndex, ivf_shape

    x = dataset(data, n, seed=1)
    q = dataset(data, 200, seed=99)
    ids = np.arange(n, dtype=np.int64) * 3 + 7  # passage ids are not row numbers
    exact = faiss.IndexFlatIP(DIM)
    exact.add(x)
    _, gt = exact.search(q, 100)
    del exact
    np.save(folder / "queries.npy", q)
    np.save(folder / "gt.npy", ids[gt])
    out: dict = {"n": n, "data": data, "types": {}}
    for kind in types:
        t0 = time.perf_counter()
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 64
            index = faiss.IndexIDMap2(index)
            index.add_with_ids(x, ids)
            built = time.perf_counter() - t0
            faiss.write_index(index, str(folder / f"{kind}.faiss"))
            params = {"M": 32, "efConstruction": 64, "efSearch": 128}
        else:
            index = VectorIndex.build(DIM, ids, x, kind=kind)
            built = time.perf_counter() - t0
            index.save(folder / f"{kind}.faiss")
            params = dict(zip(("lists", "probes"), ivf_shape(n))) | {"rerank": VECTORS.rerank} if kind == "ivf" else {}
        out["types"][kind] = {"build_s": round(built, 2),
                              "size_mb": round((folder / f"{kind}.faiss").stat().st_size / 2**20, 1),
                              "params": params}
        del index
    out["build_peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def child_search(folder: Path, kind: str, repeats: int) -> dict:
    """Load one saved index in a fresh process and search it."""
    import faiss

    from sok.store.vectors import VectorIndex

    q = np.load(folder / "queries.npy")
    gt = np.load(folder / "gt.npy")
    t0 = time.perf_counter()
    if kind == "hnsw":
        raw = faiss.read_index(str(folder / f"{kind}.faiss"))
        faiss.downcast_index(raw.index).hnsw.efSearch = 128
        faiss.omp_set_num_threads(1)

        def search(v: np.ndarray, k: int) -> list[tuple[int, float]]:
            s, i = raw.search(v.reshape(1, -1), k)
            return [(int(a), float(b)) for a, b in zip(i[0], s[0]) if a >= 0]
        index = None
    else:
        index = VectorIndex.load(folder / f"{kind}.faiss")
        search = index.search
    load_s = time.perf_counter() - t0
    recall10, recall100 = [], []
    for v, truth in zip(q, gt):
        got = [pid for pid, _ in search(v, 100)]
        recall10.append(len(set(got[:10]) & set(truth[:10])) / 10)
        recall100.append(len(set(got) & set(truth)) / 100)
    nq = min(len(q), 40 if repeats <= 1 else 100)
    times: list[float] = []
    for _ in range(max(1, repeats)):
        for v in q[:nq]:
            t = time.perf_counter()
            search(v, 100)
            times.append(time.perf_counter() - t)
    out = {"load_s": round(load_s, 2), "recall10": round(float(np.mean(recall10)), 4),
           "recall100": round(float(np.mean(recall100)), 4),
           "p50_ms": round(_pct(times, 50), 2), "p95_ms": round(_pct(times, 95), 2), "queries": len(times)}
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)  # before the filtered check's reference copies
    if index is not None:
        out["filtered"] = _filtered(index, q[:20 if len(index) <= 100_000 else 10])
    return out


def _filtered(index, queries: np.ndarray) -> dict:
    """Latency of filtered searches and whether they equal exact search over the allowed vectors."""
    ids = index.ids()
    rng = np.random.default_rng(5)
    out = {}
    for share in (0.01, 0.5):
        allowed = np.sort(rng.choice(ids, max(1, int(share * len(ids))), replace=False))
        rows = np.sort(index._rows(allowed))
        times, exact = [], True
        for v in queries:
            t = time.perf_counter()
            got = index.search(v, 100, allowed=allowed)
            times.append(time.perf_counter() - t)
            scores = np.concatenate([index._xb[rows[i:i + 50_000]] @ v for i in range(0, len(rows), 50_000)])
            best = np.argsort(-scores, kind="stable")[:100]
            want = set(ids[rows[best]].tolist())
            exact &= {pid for pid, _ in got} == want or np.allclose(
                sorted(s for _, s in got), sorted(scores[best]), atol=1e-5)
        out[f"{share:.0%}"] = {"p50_ms": round(_pct(times, 50), 2), "p95_ms": round(_pct(times, 95), 2),
                               "exact": bool(exact)}
    return out


def child_hybrid(folder: Path, n: int, repeats: int) -> dict:
    """Dense leg (the tier sok picks for n) + lexical leg + RRF, after embedding."""
    from sok.query.search import rrf
    from sok.store import lexical
    from sok.store.vectors import VectorIndex, choose_kind

    kind = choose_kind(n)
    vectors = VectorIndex.load(folder / f"{kind}.faiss")
    ids = vectors.ids()
    texts, queries, source = synthetic_texts(n, seed=3)
    backend = getattr(lexical, "TantivyIndex", None) or getattr(lexical, "Bm25sIndex", None) or lexical.LexicalIndex
    t0 = time.perf_counter()
    lex = backend.build(ids.tolist(), texts)
    lex_build = time.perf_counter() - t0
    del texts
    qv = np.load(folder / "queries.npy")
    dense_t, lex_t, total = [], [], []
    pairs = [(queries[i % len(queries)], qv[i % len(qv)]) for i in range(100)]
    for _ in range(max(1, repeats)):
        for text, v in pairs:
            t = time.perf_counter()
            lexical_hits = lex.search(text, 100)
            t1 = time.perf_counter()
            dense_hits = vectors.search(v, 100)
            t2 = time.perf_counter()
            sorted(rrf([[p for p, _ in lexical_hits], [p for p, _ in dense_hits]], 60).items(), key=lambda kv: -kv[1])
            t3 = time.perf_counter()
            lex_t.append(t1 - t)
            dense_t.append(t2 - t1)
            total.append(t3 - t)
    return {"dense_kind": kind, "lexical_backend": backend.__name__, "lexical_build_s": round(lex_build, 1),
            "texts": source,
            "lexical_p50_ms": round(_pct(lex_t, 50), 2), "lexical_p95_ms": round(_pct(lex_t, 95), 2),
            "dense_p50_ms": round(_pct(dense_t, 50), 2), "dense_p95_ms": round(_pct(dense_t, 95), 2),
            "p50_ms": round(_pct(total, 50), 2), "p95_ms": round(_pct(total, 95), 2), "queries": len(total),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def _child(*args: str) -> dict:
    """Run one child of this module and return its JSON answer."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.vector_scale", "--child", *args],
                          cwd=ROOT, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"})
    if proc.returncode:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- the part's interface ------------------------------------------------------------------

def plan(quick: bool, sizes: tuple[int, ...] | None = None) -> list[tuple[int, str, list[str]]]:
    """(passages, data set, index types) to measure. Full mode: e5like at every
    size plus 20k and 50k to place the exact limit; uniform (the recall worst
    case) up to 100k only, since at 1M it repeats what 100k already shows at
    4 min a run; HNSW at 10k only (its build took 79 s at 100k here, and
    about 15x that at 1M), enough to compare its build cost with IVF's."""
    if sizes:
        return [(n, d, ["flat", "ivf"]) for n in sizes for d in DATASETS]
    if quick:
        return [(n, d, ["flat", "ivf"]) for n in QUICK_SIZES for d in DATASETS]
    out: list[tuple[int, str, list[str]]] = []
    for n in sorted(set(FULL_SIZES) | set(SWEEP_SIZES)):
        out.append((n, "e5like", ["flat", "ivf"] + (["hnsw"] if n <= HNSW_MAX else [])))
        if n in FULL_SIZES and n <= 100_000:
            out.append((n, "uniform", ["flat", "ivf"]))
    return out


def run(quick: bool = False, sizes: tuple[int, ...] | None = None, hybrid: bool = True, log=print) -> dict:
    """Every index type at every size, each figure measured in its own process."""
    from dataclasses import asdict

    from sok.store.vectors import VECTORS, choose_kind

    repeats = 1 if quick else 3
    result: dict = {"dim": DIM, "quick": quick, "repeats": repeats, "config": asdict(VECTORS),
                    "shape": {"e5like": shape_stats(e5like(2000, 4)), "uniform": shape_stats(uniform(2000, 4)),
                              "real": real_stats()},
                    "runs": []}
    for n, data, types in plan(quick, sizes):
        with tempfile.TemporaryDirectory(prefix="sok-vs-") as tmp:
            t0 = time.perf_counter()
            built = _child("build", tmp, str(n), data, ",".join(types))
            for kind in types:
                built["types"][kind] |= _child("search", tmp, kind, str(repeats))
            built["chosen"] = choose_kind(n)
            if hybrid and data == "e5like" and n not in SWEEP_SIZES:
                built["hybrid"] = _child("hybrid", tmp, str(n), str(repeats))
            built["seconds"] = round(time.perf_counter() - t0, 1)
        log(f"vector_scale: n={n} {data} done in {built['seconds']} s")
        result["runs"].append(built)
    return result


def markdown(result: dict) -> str:
    """The part's section of BENCHMARKS.md."""
    cfg = result["config"]
    lines = ["## Vector search at scale", "",
             f"Dim {result['dim']}, single queries with k=100 (Searcher's depth), after the query is embedded; "
             f"median and p95 over {result['repeats']} repeat(s) of the query set. Peak RSS: a fresh process "
             "that loads the saved index and searches. recall@10 against exact search. sok picks `flat` up to "
             f"{cfg['exact_max']:,} passages, `ivf` above (IVF + 8-bit scalar quantiser, ~sqrt(n) lists, "
             f"{cfg['probe_share']:.3f} of them probed, top {cfg['rerank']} re-scored exactly from float32).", "",
             "| data | passages | index | chosen | build s | MB on disk | p50 ms | p95 ms | recall@10 | recall@100 | peak RSS MB |",
             "|---|---:|---|:-:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in result["runs"]:
        for kind, t in run["types"].items():
            lines.append(f"| {run['data']} | {run['n']:,} | {kind} | {'✓' if kind == run['chosen'] else ''} | "
                         f"{t['build_s']} | {t['size_mb']} | {t['p50_ms']} | {t['p95_ms']} | {t['recall10']} | "
                         f"{t['recall100']} | {t['peak_rss_mb']:.0f} |")
    lines += ["", "Filtered search (always exact: brute force over the allowed vectors), p50 / p95 ms, "
              "and whether it equalled exact search over the allowed set:", "",
              "| data | passages | index | 1 % allowed | 50 % allowed |", "|---|---:|---|---|---|"]
    for run in result["runs"]:
        for kind, t in run["types"].items():
            if "filtered" in t:
                f = t["filtered"]
                cells = [f"{f[s]['p50_ms']} / {f[s]['p95_ms']} ({'exact' if f[s]['exact'] else 'NOT exact'})"
                         for s in ("1%", "50%")]
                lines.append(f"| {run['data']} | {run['n']:,} | {kind} | {cells[0]} | {cells[1]} |")
    hybrid = [r for r in result["runs"] if "hybrid" in r]
    if hybrid:
        lines += ["", "Hybrid (lexical leg over synthetic 40-word texts of the same size + dense leg + RRF), ms; "
                  f"texts and queries: {hybrid[0]['hybrid'].get('texts', '?')}. The sum of both legs and the fusion "
                  "is timed per query, so its p95 is measured, not added:", "",
                  "| passages | dense tier | lexical | lexical p50/p95 | dense p50/p95 | hybrid p50 | hybrid p95 |",
                  "|---:|---|---|---|---|---:|---:|"]
        for r in hybrid:
            h = r["hybrid"]
            lines.append(f"| {r['n']:,} | {h['dense_kind']} | {h['lexical_backend']} | {h['lexical_p50_ms']} / "
                         f"{h['lexical_p95_ms']} | {h['dense_p50_ms']} / {h['dense_p95_ms']} | {h['p50_ms']} | {h['p95_ms']} |")
    shape = result["shape"]
    lines += ["", "Shape of the data (mean-vector norm, mean pairwise cosine, mean best-neighbour cosine in a "
              "2,000 sample, dimensions holding 90 % of the residual variance): "
              + "; ".join(f"{k} {v}" for k, v in shape.items() if v) + ".",
              "Uniform random vectors have no neighbourhoods, so their recall is a worst case; e5like matches real e5 "
              "statistics and is the set the recall target is judged on."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")))
    ap.add_argument("--no-hybrid", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs="+")
    a = ap.parse_args(argv)
    if a.child:
        job, folder, *rest = a.child
        if job == "build":
            out = child_build(Path(folder), int(rest[0]), rest[1], rest[2].split(","))
        elif job == "search":
            out = child_search(Path(folder), rest[0], int(rest[1]))
        else:
            out = child_hybrid(Path(folder), int(rest[0]), int(rest[1]))
        print(json.dumps(out))
        return 0
    result = run(a.quick, a.sizes, not a.no_hybrid, log=lambda m: print(m, file=sys.stderr))
    if a.json:
        a.json.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
