"""Benchmark suite: `python -m benchmarks [--quick]` writes BENCHMARKS.md and BENCHMARKS.json.

What every part needs to describe the machine and its own memory lives here."""

from __future__ import annotations

import argparse
import platform
import resource
from pathlib import Path
from typing import Callable


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM), in MB. Not getrusage's ru_maxrss alone:
    Linux keeps that across fork and exec, so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_part(doc: str, run: Callable[[bool], dict], markdown: Callable[[dict], str], argv: list[str] | None = None) -> int:
    """The command line of a part that takes only `--quick`: run it and print its section."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    print(markdown(run(ap.parse_args(argv).quick)))
    return 0
