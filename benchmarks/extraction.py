"""Benchmark PDF text extraction: pypdfium2 versus pypdf, on the sok corpus.

Why: sok indexes Swedish meeting records (protokoll, kallelser, tjänsteskrivelser)
page by page, so the extraction library decides both how long a re-index takes
and what the cleaner and chunker have to repair. This script measures, per
library, the speed (median of N full passes) and a few quality signals that
matter downstream: pages with no text layer (scans, which need OCR), total
characters, and pages containing artefacts that cleaning must handle
(U+FFFE from pdfium's soft hyphen marker, U+00AD soft hyphen, '\\r\\n' line
ends). It also lists, per file, the pages without text and any file that fails
to open, so the choice between the two libraries rests on measurements of this
corpus rather than on general reputation.

Usage: python benchmarks/extraction.py [FOLDER] [--repeat N] [--json OUT]
As a part of the suite (`python -m benchmarks`): `run(quick)` and `markdown(result)`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import pypdfium2 as pdfium
from pypdf import PdfReader

MARKERS: dict[str, str] = {"U+FFFE": "\ufffe", "U+00AD": "\u00ad", "CRLF": "\r\n"}


def pages_pdfium(path: Path) -> list[str]:
    doc = pdfium.PdfDocument(path)
    try:
        out = []
        for page in doc:
            tp = page.get_textpage()
            out.append(tp.get_text_range())
            tp.close()
            page.close()
        return out
    finally:
        doc.close()


def pages_pypdf(path: Path) -> list[str]:
    return [p.extract_text() or "" for p in PdfReader(path).pages]


LIBRARIES: dict[str, Callable[[Path], list[str]]] = {"pypdfium2": pages_pdfium, "pypdf": pages_pypdf}


def run_pass(fn: Callable[[Path], list[str]], files: list[Path]) -> tuple[float, dict[str, list[str] | str]]:
    """One pass over all files; returns seconds and per-file page texts (or error string)."""
    results: dict[str, list[str] | str] = {}
    t0 = time.perf_counter()
    for f in files:
        try:
            results[str(f)] = fn(f)
        except Exception as e:  # noqa: BLE001 - record and continue
            results[str(f)] = f"{type(e).__name__}: {e}"
    return time.perf_counter() - t0, results


def summarize(secs: list[float], results: dict[str, list[str] | str], root: Path) -> dict:
    pages = chars = 0
    empty: list[tuple[str, int]] = []
    errors: dict[str, str] = {}
    page_counts: dict[str, int] = {}
    marks = dict.fromkeys(MARKERS, 0)
    for f, texts in results.items():
        rel = str(Path(f).relative_to(root))
        if isinstance(texts, str):
            errors[rel] = texts
            continue
        page_counts[rel] = len(texts)
        for i, t in enumerate(texts, 1):
            pages += 1
            chars += len(t)
            if not t.strip():
                empty.append((rel, i))
            for k, m in MARKERS.items():
                marks[k] += m in t
    med = statistics.median(secs)
    return {
        "pages": pages, "seconds_median": med, "seconds_all": secs,
        "pages_per_s": pages / med if med else 0.0, "empty_pages": len(empty),
        "chars": chars, "pages_with": marks, "empty_list": empty,
        "errors": errors, "page_counts": page_counts,
    }


DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def measure(files: list[Path], root: Path, repeat: int) -> dict[str, dict]:
    """Per library: `repeat` full passes over `files`, the two libraries
    taking turns pass by pass so a neighbour's load hits both alike."""
    secs: dict[str, list[float]] = {name: [] for name in LIBRARIES}
    last: dict[str, dict] = {}
    for _ in range(repeat):
        for name, fn in LIBRARIES.items():
            s, last[name] = run_pass(fn, files)
            secs[name].append(s)
    return {name: summarize(secs[name], last[name], root) for name in LIBRARIES}


def run(quick: bool = False, folder: Path = DEFAULT_CORPUS) -> dict:
    """The suite's entry: all PDFs, 3 passes (quick: the 8 smallest PDFs, 1 pass)."""
    root = Path(folder).resolve()
    files = sorted(root.rglob("*.pdf"))
    if not files:
        return {"skipped": f"no PDFs under {root}"}
    if quick:
        files = sorted(files, key=lambda f: f.stat().st_size)[:8]
    repeat = 1 if quick else 3
    summary = measure(files, root, repeat)
    for s in summary.values():  # the per-page lists are long and belong to the CLI report
        s.pop("empty_list", None)
        s.pop("page_counts", None)
    return {"folder": str(root), "files": len(files), "repeat": repeat,
            "versions": {"pypdfium2": str(pdfium.version.PYPDFIUM_INFO), "pypdf": __import__("pypdf").__version__},
            "libraries": summary}


def markdown(result: dict) -> str:
    lines = ["## PDF text extraction", ""]
    if "skipped" in result:
        return "\n".join(lines + [f"Skipped: {result['skipped']}."]) + "\n"
    libs = result["libraries"]
    lines += [f"{result['files']} PDFs from {result['folder']}, median of {result['repeat']} full pass(es); "
              f"{result['versions']['pypdfium2']}, pypdf {result['versions']['pypdf']}.", "",
              "| library | pages | seconds (median) | pages/s | pages without text | errors |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, s in libs.items():
        lines.append(f"| {name} | {s['pages']} | {s['seconds_median']:.2f} | {s['pages_per_s']:.1f} | "
                     f"{s['empty_pages']} | {len(s['errors'])} |")
    if "pypdf" in libs and libs["pypdf"]["pages_per_s"]:
        lines += ["", f"pypdfium2 / pypdf speed ratio (same run): "
                  f"{libs['pypdfium2']['pages_per_s'] / libs['pypdf']['pages_per_s']:.1f}x"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=DEFAULT_CORPUS, type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="write results as JSON here")
    a = ap.parse_args(argv)
    root = a.folder.resolve()
    files = sorted(root.rglob("*.pdf"))
    if not files:
        print(f"no PDFs under {root}", file=sys.stderr)
        return 1
    print(f"{len(files)} PDFs under {root}, {a.repeat} repeats, {pdfium.version.PYPDFIUM_INFO} / pypdf "
          f"{__import__('pypdf').__version__}")
    summary = measure(files, root, a.repeat)

    hdr = f"{'library':<10} {'pages':>6} {'sec(med)':>9} {'pages/s':>8} {'empty':>6} {'chars':>9} " + \
          " ".join(f"{k:>7}" for k in MARKERS)
    print(hdr)
    for name, s in summary.items():
        print(f"{name:<10} {s['pages']:>6} {s['seconds_median']:>9.2f} {s['pages_per_s']:>8.1f} "
              f"{s['empty_pages']:>6} {s['chars']:>9} " + " ".join(f"{s['pages_with'][k]:>7}" for k in MARKERS))
    for name, s in summary.items():
        print(f"\n[{name}] pages without text ({len(s['empty_list'])}):")
        by_file: dict[str, list[int]] = {}
        for f, p in s["empty_list"]:
            by_file.setdefault(f, []).append(p)
        for f, ps in by_file.items():
            print(f"  {f}: {ps}")
        for f, e in s["errors"].items():
            print(f"  OPEN FAILED {f}: {e}")
    names = list(summary)
    diff = {f: [summary[n]["page_counts"].get(f) for n in names]
            for f in set().union(*(summary[n]["page_counts"] for n in names))
            if len({summary[n]["page_counts"].get(f) for n in names}) > 1}
    print(f"\npage-count mismatches ({' vs '.join(names)}): {diff or 'none'}")
    if a.json:
        a.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
