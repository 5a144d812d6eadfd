"""Lexical search at 10^4-10^6 passages: bm25s (in memory, rebuilt whole)
against tantivy (on disk, incremental), both fed by sok's own tokenizer
(Swedish Snowball stemming, stop words, identifiers whole and split).

Passages are synthetic but made of the real corpus: the text of
../shared/corpus is extracted with sok's extractor, its whitespace-separated
words (with their case and punctuation, so case numbers and dates stay as
they are) are counted, and each passage is drawn word by word from that
frequency distribution, 40-220 words long (the real passages average ~130).
Unigram sampling keeps the vocabulary of the corpus (~10^5 forms): the term
statistics are realistic, the long tail of a larger real archive is not.

Per size, one subprocess generates and tokenizes the passages once (timed:
the tokenizer is shared by both backends) and writes the terms to a file;
then one fresh subprocess per backend builds from those terms, reports its
size on disk, times the eval questions (../shared/eval/dev*.jsonl) at the
app's depth (k=100), plain and with an id filter of 5 % of the passages,
and reports its own peak RSS, so sizes and backends never share a process.

Usage: python -m benchmarks.lexical_scale [--quick]"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EVAL = [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT.parent / "shared" / "eval" / "dev_real.jsonl"]
K = 100  # SearchConfig.candidates: the depth the lexical leg is asked for
REPEATS = 5
FILTER_SHARES = (0.05, 0.002)  # a broad filter (organ, years) and a narrow one (one case number)


def _dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def _questions() -> list[str]:
    out = []
    for path in EVAL:
        if path.exists():
            out += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def _vocabulary() -> tuple[list[str], np.ndarray]:
    """Word forms of the real corpus and their relative frequencies."""
    sys.path.insert(0, str(ROOT / "src"))
    from sok.ingest.extract import ExtractionError, extract_file, find_files

    counts: Counter[str] = Counter()
    for path in find_files(CORPUS):
        try:
            f = extract_file(path, CORPUS)
        except ExtractionError:
            continue
        for page in f.pages:
            counts.update(re.findall(r"\S+", page.text))
    words = list(counts)
    freq = np.fromiter((counts[w] for w in words), dtype=np.float64, count=len(words))
    return words, freq / freq.sum()


def _prep(n: int, folder: Path) -> dict:
    """Generate n passages, tokenize them once, write one line of terms per passage."""
    from sok.store.lexical import tokenize

    t0 = time.perf_counter()
    words, p = _vocabulary()
    vocab = np.array(words, dtype=object)
    rng = np.random.default_rng(n)
    lengths = rng.integers(40, 221, size=n)
    generate = tok = 0.0
    n_terms = 0
    with open(folder / "terms.txt", "w", encoding="utf-8") as out:
        for start in range(0, n, 10_000):
            t = time.perf_counter()
            part = lengths[start:start + 10_000]
            draws = rng.choice(len(words), size=int(part.sum()), p=p)
            bounds = np.concatenate([[0], np.cumsum(part)])
            texts = [" ".join(vocab[draws[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]
            generate += time.perf_counter() - t
            t = time.perf_counter()
            lines = []
            for text in texts:
                terms = tokenize(text)
                n_terms += len(terms)
                lines.append(" ".join(terms))
            tok += time.perf_counter() - t
            out.write("\n".join(lines) + "\n")
    return {"vocabulary_forms": len(words), "generate_s": round(generate, 1), "tokenize_s": round(tok, 1),
            "terms_per_passage": round(n_terms / n, 1), "prep_s": round(time.perf_counter() - t0, 1)}


def _latencies(search, questions: list[str]) -> dict:
    for q in questions:  # warm caches once
        search(q)
    times = []
    for _ in range(REPEATS):
        for q in questions:
            t = time.perf_counter()
            search(q)
            times.append(time.perf_counter() - t)
    times.sort()
    return {"p50_ms": round(1000 * statistics.median(times), 2),
            "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 2), "n": len(times)}


def _backend(name: str, n: int, folder: Path) -> dict:
    """Build one backend from the terms file, then measure it (run in its own process)."""
    from sok.store.lexical import Bm25sIndex, TantivyIndex, content_key

    terms_file = folder / "terms.txt"
    out: dict = {"backend": name}
    t0 = time.perf_counter()
    if name == "tantivy":
        where = folder / "tantivy"
        index = TantivyIndex.open(where, create=True)
        with open(terms_file, encoding="utf-8") as fh:
            index.apply(adds=((i, line.rstrip("\n"), content_key(str(i))) for i, line in enumerate(fh)), tokenized=True)
        out["build_s"] = round(time.perf_counter() - t0, 1)
        out["disk_mb"] = _dir_mb(where)
        index = TantivyIndex.open(where)  # searched as the app does: freshly opened from disk
    else:
        with open(terms_file, encoding="utf-8") as fh:
            tokens = [line.split() for line in fh]
        index = Bm25sIndex.from_tokens(np.arange(len(tokens)), tokens)
        del tokens
        out["build_s"] = round(time.perf_counter() - t0, 1)
        where = folder / "bm25s"
        index.save(where)
        out["disk_mb"] = _dir_mb(where)
    assert len(index) == n
    questions = _questions()
    out["latency"] = _latencies(lambda q: index.search(q, K), questions)
    rng = np.random.default_rng(0)
    for share in FILTER_SHARES:
        allowed = np.sort(rng.choice(n, size=max(1, int(share * n)), replace=False))
        out[f"latency_filtered_{share}"] = _latencies(lambda q: index.search(q, K, allowed=allowed), questions)
    hits = [index.search(q, 10) for q in questions]
    out["top10"] = [[pid for pid, _ in h] for h in hits]
    if name == "tantivy":  # what a sync costs when one file changes: read the index's entries, apply a small diff
        t = time.perf_counter()
        index.entries()
        out["entries_s"] = round(time.perf_counter() - t, 2)
        with open(terms_file, encoding="utf-8") as fh:
            sample = [next(fh).rstrip("\n") for _ in range(min(200, n))]
        t = time.perf_counter()
        index.apply(adds=((n + i, line, content_key(str(n + i))) for i, line in enumerate(sample)),
                    deletes=range(min(150, n)), tokenized=True)
        out["update_200_add_150_delete_s"] = round(time.perf_counter() - t, 2)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.lexical_scale", "--child", *args], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src") + ":" + str(ROOT)})
    if proc.returncode:
        raise RuntimeError(f"child {args} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _overlap(a: list[list[int]], b: list[list[int]]) -> float:
    """Mean share of the top 10 that both backends return (BM25 variants differ slightly)."""
    shares = [len(set(x) & set(y)) / max(1, len(x)) for x, y in zip(a, b) if x or y]
    return round(float(np.mean(shares)), 3) if shares else 1.0


def run(quick: bool = False, log=lambda msg: print(msg, file=sys.stderr, flush=True)) -> dict:
    sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]
    rows = []
    for n in sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"lexscale-{n}-"))
        try:
            prep = _child("prep", str(n), str(folder))
            log(f"[lexical_scale] {n}: prep {prep}")
            for name in ("bm25s", "tantivy"):
                res = _child(name, str(n), str(folder))
                log(f"[lexical_scale] {n} {name}: build {res['build_s']} s, p95 {res['latency']['p95_ms']} ms,"
                    f" rss {res['peak_rss_mb']} MB")
                rows.append({"passages": n, **prep, **res})
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    for n in sizes:
        pair = [r for r in rows if r["passages"] == n]
        agree = _overlap(pair[0]["top10"], pair[1]["top10"])
        for r in pair:
            r["top10_overlap"] = agree
    for r in rows:
        r.pop("top10")
    return {"quick": quick, "k": K, "repeats": REPEATS, "filter_shares": list(FILTER_SHARES),
            "questions": len(_questions()), "rows": rows}


def markdown(result: dict) -> str:
    lines = [
        "## Lexical search at scale: bm25s vs tantivy", "",
        f"Synthetic passages drawn from the word frequencies of the real corpus, tokenized once by"
        f" `sok.store.lexical.tokenize` (Swedish stemming kept). Latency: {result['questions']} eval questions x"
        f" {result['repeats']}, top {result['k']}, in the backend's own process (tokenizing the query included);"
        " filtered: restricted to a random " + " or ".join(f"{100 * s:g} %" for s in result["filter_shares"])
        + " of the passages (an exact filter)."
        " Build: indexing the terms (tokenizing shown separately, shared by both). Peak RSS: the backend's process.", "",
        "| passages | backend | tokenize s | build s | disk MB | p50 ms | p95 ms | "
        + " | ".join(f"filter {100 * s:g} % p50 / p95 ms" for s in result["filter_shares"])
        + " | peak RSS MB | top-10 overlap |",
        "|---:|---|---:|---:|---:|---:|---:|" + "---:|" * len(result["filter_shares"]) + "---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['passages']:,} | {r['backend']} | {r['tokenize_s']} | {r['build_s']} | {r['disk_mb']} |"
            f" {r['latency']['p50_ms']} | {r['latency']['p95_ms']} | "
            + " | ".join(f"{r[f'latency_filtered_{s}']['p50_ms']} / {r[f'latency_filtered_{s}']['p95_ms']}"
                         for s in result["filter_shares"])
            + f" | {r['peak_rss_mb']} | {r['top10_overlap']} |"
        )
    lines += ["", "Incremental (tantivy): reading every entry's id and content key (the diff's input) and"
              " committing a change of 200 added and 150 deleted passages:", ""]
    lines += [f"- {r['passages']:,}: entries {r['entries_s']} s, update {r['update_200_add_150_delete_s']} s"
              for r in result["rows"] if "entries_s" in r]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("WHAT", "N", "FOLDER"))
    a = ap.parse_args()
    if a.child:
        what, n, folder = a.child[0], int(a.child[1]), Path(a.child[2])
        print(json.dumps(_prep(n, folder) if what == "prep" else _backend(what, n, folder)))
        return
    result = run(quick=a.quick)
    print(markdown(result))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
