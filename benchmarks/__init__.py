"""Benchmark suite: `python -m benchmarks [--quick]` writes BENCHMARKS.md and BENCHMARKS.json."""
