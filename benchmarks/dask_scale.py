"""Embedding throughput through `DaskEmbedder` with one and with two workers
(one thread each, tests/dask_cluster.py), beside the same model in this
process: the same passages of the shared corpus, each run after a warm-up
batch (the model loads once per worker), texts per second.

    .venv/bin/python -m benchmarks.dask_scale [--quick]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import run_part
from benchmarks.search_quality import bench_index

ROOT = Path(__file__).resolve().parents[1]
MODEL = "onnx-e5"


def _texts(n: int) -> list[str]:
    _, index = bench_index()
    with sqlite3.connect(index / "sok.sqlite") as db:
        return [r[0] for r in db.execute("SELECT text FROM passages ORDER BY id LIMIT ?", (n,))]


def _rate(embedder, texts: list[str]) -> float:
    embedder.embed_passages(texts[:16])  # warm
    t = time.perf_counter()
    embedder.embed_passages(texts)
    return len(texts) / (time.perf_counter() - t)


def run(quick: bool = False) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from dask_cluster import dask_cluster
    from sok.embedding import load_embedder
    from sok.embedding.dask_workers import DaskEmbedder

    texts = _texts(64 if quick else 384)
    out = {"texts": len(texts), "model": MODEL, "local": round(_rate(load_embedder(MODEL, device="cpu"), texts), 2)}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as cwd, dask_cluster(tuple(f"w{i}" for i in range(workers)), Path(cwd)) as (
                address, _):
            embedder = DaskEmbedder(address, MODEL, device="cpu")
            out[f"dask_{workers}"] = round(_rate(embedder, texts), 2)
            embedder.close()
    return out


def markdown(r: dict) -> str:
    return ("## Embedding on a Dask cluster\n\n"
            f"{r['texts']} passages of the shared corpus, {r['model']}, texts per second after a warm-up batch: "
            f"in this process {r['local']}; through Dask with 1 worker {r['dask_1']}, with 2 workers {r['dask_2']} "
            f"(one thread each; 2 workers / 1 worker = {r['dask_2'] / r['dask_1']:.2f}x). "
            "On this 2-core machine the workers share the cores that one ONNX Runtime process already uses, "
            "so the figure says what the distribution costs; on separate machines each worker adds its own cores.\n")


if __name__ == "__main__":
    sys.exit(run_part(__doc__, run, markdown))
