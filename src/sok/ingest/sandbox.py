"""Each file is read in a child process with a memory and a time budget.

A file's size does not bound what reading it costs: a 73 KB PDF expanded to
30 MB of text and 5.8 GB of memory in pdfium, 9,000 pages sharing one content
stream ran for minutes, and pdfium is C code that a malformed file can crash.
In a child process each of these ends that one file with a reason; the run,
the machine and the index go on. The child is forked (not spawned), so it
starts at once with every module already loaded, and one child reads file
after file until a budget kills it; the next file gets a new one.

The memory budget is on the child's own (private) memory, watched from the
parent every 20 ms, so it means the same whatever the parent holds (an
address-space limit, RLIMIT_AS, counts from everything the child inherited:
0.6 GB of mappings in a plain `sok index`, more in a process that has loaded
a model). The address-space limit stays as a backstop, at twice the budget
above the start.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, TypeVar

from sok.config import LIMITS, LimitsConfig
from sok.ingest.extract import ExtractionError

T = TypeVar("T")


def _own_mb(pid: int) -> float:
    """Memory the process holds for itself, in MB: its private pages
    (/proc/PID/smaps_rollup), not the pages it still shares with the parent
    it was forked from, so the budget is the same whatever the parent holds.
    0 where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return sum(int(line.split()[1]) for line in fh if line.startswith(("Private_Clean:", "Private_Dirty:"))) / 1024
    except (OSError, IndexError, ValueError):
        return 0.0


def _limit_memory(megabytes: int) -> None:
    """In the child: its address space may grow by twice `megabytes` beyond
    what it inherited; past that, allocations fail (MemoryError in Python, a
    crash in C). The parent's watch on resident memory normally acts first."""
    if megabytes <= 0:
        return
    try:
        with open("/proc/self/statm") as fh:
            start = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # no /proc (not Linux): the parent's watch is all there is
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = start + 2 * megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


class Reader:
    """Runs one call at a time in a budgeted child; a context manager, so the
    child never outlives the run."""

    def __init__(self, limits: LimitsConfig = LIMITS) -> None:
        self.limits = limits
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, fn: Callable[..., T], *args: Any, seconds: float | None = None) -> T:
        """fn(*args) in the child. ExtractionError (and any other exception
        the child raises) comes back as itself; a budget exceeded or a crash
        becomes an ExtractionError that says which."""
        seconds = self.limits.max_seconds if seconds is None else seconds
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_limit_memory, initargs=(self.limits.max_memory_mb,))
        future = self._pool.submit(fn, *args)
        pid = next(iter(getattr(self._pool, "_processes", {}) or {}), None)
        budget = self.limits.max_memory_mb
        deadline = time.monotonic() + seconds if seconds > 0 else None
        try:
            while True:
                try:
                    result = future.result(timeout=0.02)
                    break
                except FutureTimeout:
                    if budget > 0 and pid is not None and _own_mb(pid) > budget:
                        raise MemoryError from None
                    if deadline is not None and time.monotonic() > deadline:
                        self._kill()
                        raise ExtractionError(f"läsningen tog mer än {seconds:.0f} s och avbröts (en textbomb eller "
                                              "en trasig fil? gränsen ändras med --max-seconds)") from None
        except (BrokenProcessPool, MemoryError):
            self._kill()
            raise ExtractionError(f"läsningen krävde mer än {budget} MB minne eller kraschade (en textbomb eller "
                                  "en trasig fil? gränsen ändras med --max-memory-mb)") from None
        if budget > 0 and pid is not None and _own_mb(pid) > budget / 2:
            self._kill()  # memory a large file left behind is not carried into the next one
        return result

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):  # shutdown alone would wait for it
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
