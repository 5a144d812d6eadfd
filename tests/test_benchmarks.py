"""The quick mode of benchmarks/vector_scale.py: it runs end to end (each
figure in its own subprocess), its result has the structure the report
needs, exact search has recall 1.0 and the approximate tier >= 0.95 on the
e5-like set."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import vector_scale  # noqa: E402


@pytest.fixture(scope="module")
def quick():
    return vector_scale.run(quick=True, hybrid=False, log=lambda _: None)


def test_quick_vector_scale_structure(quick):
    assert quick["quick"] and quick["dim"] == 384
    assert {(r["n"], r["data"]) for r in quick["runs"]} == {(10_000, "e5like"), (10_000, "uniform")}
    for run in quick["runs"]:
        assert run["chosen"] == "flat"
        assert set(run["types"]) == {"flat", "ivf"}
        for t in run["types"].values():
            for key in ("build_s", "size_mb", "p50_ms", "p95_ms", "recall10", "recall100", "peak_rss_mb"):
                assert isinstance(t[key], (int, float)), key
            assert t["p50_ms"] <= t["p95_ms"] and t["size_mb"] > 0 and t["peak_rss_mb"] > 0
            assert all(f["exact"] for f in t["filtered"].values())
    text = vector_scale.markdown(quick)
    assert text.startswith("## Vector search at scale") and "| e5like | 10,000 | ivf |" in text


def test_quick_vector_scale_recall(quick):
    for run in quick["runs"]:
        assert run["types"]["flat"]["recall10"] == 1.0
    e5 = next(r for r in quick["runs"] if r["data"] == "e5like")
    assert e5["types"]["ivf"]["recall10"] >= 0.95


def test_the_whole_quick_suite_runs_and_writes_the_report(tmp_path):
    """`python -m benchmarks --quick`, as CI runs it: every part, no part failed."""
    import json
    import os
    import subprocess

    env = {**os.environ, "SOK_BENCH_INDEX": str(tmp_path / "quality-index")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    data = json.loads((tmp_path / "BENCHMARKS.json").read_text(encoding="utf-8"))
    for heading in ("## PDF text extraction", "## Embedding speed", "## Lexical search at scale",
                    "## Vector search at scale", "## Indexing memory", "## Input limits", "## Search quality",
                    "## Concurrent sessions", "## Members' positions", "## Search over HTTP"):
        assert heading in report
    assert "## Machine" in report and "CPU:" in report
    assert data["quick"] is True
    assert {name: part["status"] for name, part in data["parts"].items()} == dict.fromkeys(
        ("extraction", "embedding", "lexical_scale", "vector_scale", "indexing_memory", "input_limits", "search_quality",
         "politics", "api", "concurrency"), "ok")
    quality = data["parts"]["search_quality"]["result"]
    assert quality["questions"] >= 10 and quality["windows"] >= quality["passages"]
    plain = quality["runs"]["plain"]
    assert set(plain["legs"]) == {"lexical", "dense", "windows", "rrf"} and plain["fused_oof"]["overall"]["n"] > 0
