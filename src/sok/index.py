"""The front door: one object for one index folder, with what the terminal,
the browser app and the benchmarks all do with it (sync a folder, search,
ask, follow a case or a topic, report status). It holds the loaded searcher,
so a program that asks many questions loads the model and indexes once, and
it picks up what a later `sync` wrote before the next question.

    from sok import Index
    idx = Index("index")
    idx.sync("corpus")
    print(idx.ask("Vad rapporterades om SIP?").render())
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from sok.config import ANSWER, AnswerConfig, default_backend, default_index_dir
from sok.embedding import Embedder
from sok.query import cases, politics, watches
from sok.query.answer import ask
from sok.query.cases import CaseEntry
from sok.query.search import Result, Searcher, SearchError
from sok.query.timeline import Timeline, timeline
from sok.records import Answer, Filters
from sok.store.db import IndexStatus, Store
from sok.store.sync import SyncReport, sync
from sok.store.watchlist import Watch, WatchHit, WatchList


class Index:
    def __init__(self, path: str | Path | None = None, embedder: Embedder | None = None,
                 searcher: Searcher | None = None) -> None:
        """`path`: the index folder (default ./index or $SOK_INDEX). `embedder`:
        the query model to use instead of the index's own (tests); `searcher`:
        one already loaded on this index (the app's shared one). Nothing
        loads until the first question."""
        self.path = Path(path) if path is not None else default_index_dir()
        self._embedder = embedder
        self._searcher: Searcher | None = searcher

    @property
    def exists(self) -> bool:
        return (self.path / "sok.sqlite").exists()

    @property
    def searcher(self) -> Searcher:
        """The loaded searcher, moved to the newest generation on each use."""
        if self._searcher is None:
            self._searcher = Searcher(self.path, embedder=self._embedder)
        else:
            self._searcher.refresh()
        return self._searcher

    def sync(self, folder: str | Path, **options: Any) -> SyncReport:
        """Bring the index up to date with `folder` (options: those of
        sok.store.sync.sync, such as model, progress, ocr, limits), then run
        every watch against what this run added or changed (report.news)."""
        report = sync(Path(folder), self.path, **options)
        if url := default_backend():  # the folder is the writer's copy and embedding cache; the server serves
            from sok.store.postgres import publish_all

            report.published = publish_all(self.path, url)
        if (report.new or report.changed) and self._has_watches():
            changed = {str((Path(folder) / rel).resolve()) for rel in [*report.new, *report.changed]}
            with WatchList(self.path) as watchlist:
                if watchlist.all():
                    try:
                        report.news = [{"watch": f.watch, "hits": [asdict(h) for h in f.hits]}
                                       for f in watches.evaluate(self.searcher, watchlist, changed)]
                    except SearchError as exc:  # the run itself landed; say why the watches did not run
                        report.warnings.append(("bevakningar", f"kördes inte: {exc}"))
        return report

    # --- bevakningar ---------------------------------------------------------------------
    def watch_add(self, name: str, query: str, filters: Filters | None = None) -> tuple[Watch, int]:
        """A new watch, and how many passages the material already holds for
        it (known from the start, so only what later runs bring is news)."""
        with WatchList(self.path) as watchlist:
            watch = watchlist.add(name, query, filters)
            try:
                return watch, watches.start(self.searcher, watchlist, watch)
            except Exception:
                watchlist.remove(name)  # a watch that cannot run is not kept
                raise

    def _watches(self) -> WatchList:
        """The watch list; reading one that was never made makes an empty one
        in memory, so a read-only index folder is never written to."""
        return WatchList(self.path, create=False)

    def watch_list(self) -> list[Watch]:
        with self._watches() as watchlist:
            return watchlist.all()

    def watch_remove(self, name: str) -> None:
        with WatchList(self.path) as watchlist:
            watchlist.remove(name)

    def watch_news(self, name: str | None = None, mark_seen: bool = True) -> list[WatchHit]:
        with WatchList(self.path) if mark_seen and self._has_watches() else self._watches() as watchlist:
            return watchlist.news(name, mark_seen)

    def _has_watches(self) -> bool:
        return (self.path / "watches.sqlite").exists()

    def watch_feed(self, name: str | None = None, links: Any = None) -> bytes:
        """The Atom feed of one watch or all; `links(hit) -> str` makes each entry's link."""
        with self._watches() as watchlist:
            entries = watchlist.feed_entries(name)
            title = f"sok – bevakning {name}" if name else "sok – alla bevakningar"
            feed_id = f"urn:sok:{quote(str(self.path.resolve()))}:{quote(name or '*')}"
            return watches.atom(entries, title, feed_id, [links(e) for e in entries] if links else None)

    def search(self, query: str, k: int = 10, mode: str = "hybrid", cutoff: bool = False,
               filters: Filters | None = None) -> Result:
        return self.searcher.query(query, k=k, mode=mode, cutoff=cutoff, filters=filters)

    def ask(self, question: str, cfg: AnswerConfig = ANSWER, llm_url: str | None = None,
            llm_model: str | None = None, filters: Filters | None = None) -> Answer:
        return ask(self.searcher, question, cfg, llm_url=llm_url, llm_model=llm_model, filters=filters)

    def timeline(self, query: str, depth: int = 100) -> Timeline:
        return timeline(self.searcher, query, depth=depth)

    def case(self, number: str) -> list[CaseEntry]:
        """Every document and § of a case. Reads the store only: no model or
        vector index is loaded for it."""
        if self._searcher is not None:
            return cases.case(self._searcher.backend, number)
        with self._store() as store:
            return cases.case(store, number)

    def record(self, name: str | None = None, party: str | None = None) -> list[politics.PositionEntry]:
        """A member's or a party's yrkanden, reservationer and
        protokollsanteckningar, oldest first. Reads the store only."""
        with self._store() as store:
            return politics.record(store, name, party)

    def case_numbers(self) -> list[tuple[str, int]]:
        return cases.case_numbers(self.searcher.backend)

    def roots(self) -> list[Path]:
        """The folders indexed so far (none without an index)."""
        if not self.exists:
            return []
        with self._store() as store:
            return store.roots()

    @contextmanager
    def _store(self) -> Iterator[Store]:
        """The store, opened for one look and closed after it (no model, no vectors)."""
        if not self.exists:
            raise SearchError(f"Inget index i {self.path}. Kör först:  sok index MAPP")
        store = Store(self.path)
        try:
            yield store
        finally:
            store.close()

    def status(self) -> IndexStatus:
        with self._store() as store:
            return store.status()

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
