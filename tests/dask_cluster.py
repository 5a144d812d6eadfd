"""A real Dask distributed cluster on 127.0.0.1 for the tests and
benchmarks: one scheduler and named workers (one thread each, no nanny, so
killing a worker's process kills the worker), stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dask_cluster(names: tuple[str, ...], cwd: Path) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    """(scheduler address, {worker name: its process}), once every worker has joined."""
    import distributed

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    address = f"tcp://127.0.0.1:{_free_port()}"
    quiet = {"env": env, "cwd": cwd, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", address.rsplit(":", 1)[1], "--no-dashboard"], **quiet)]  # type: ignore[call-overload]
    workers = {name: subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", name,
                                       "--nthreads", "1", "--no-dashboard", "--no-nanny", "--host", "127.0.0.1"],
                                      **quiet)  # type: ignore[call-overload]
               for name in names}
    procs += workers.values()
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(len(names), timeout=120)
        yield address, workers
    finally:
        for p in procs:
            p.kill()
            p.wait()
