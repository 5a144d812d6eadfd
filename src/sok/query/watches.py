"""Bevakningar: a saved search run again after every index run, reporting
once each relevant passage that run added or changed, and an Atom feed of
what they found. A watch reports what clears the relevance cut-off, never a
passage it reported before (the same file and text) nor a near-duplicate of
one (the same text in another file: a kallelse's PM in the protokoll)."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from sok.query.search import Searcher, near_duplicate, shingles
from sok.records import Hit
from sok.store.watchlist import Watch, WatchHit, WatchList

DEPTH = 50  # hits a watch looks at per run (those that clear the cut-off)


@dataclass
class Found:
    watch: str
    hits: list[Hit]


def passage_key(hit: Hit) -> str:
    """The same passage after a re-index (its id may change): file and text."""
    digest = hashlib.sha1(" ".join(hit.text.split()).encode("utf-8")).hexdigest()[:16]
    return f"{hit.path}#{digest}"


def _row(hit: Hit) -> dict:
    return {"passage_key": passage_key(hit), "title": hit.title, "organ": hit.organ, "doc_type": hit.doc_type,
            "date": hit.date, "item": hit.item, "file": hit.file, "path": hit.path, "page_start": hit.page_start,
            "page_end": hit.page_end, "passage_id": hit.passage_id, "snippet": hit.snippet, "text": hit.text}


def start(searcher: Searcher, watches: WatchList, watch: Watch) -> int:
    """A new watch's baseline: what the material already holds is known, not
    news; returns how many passages that is."""
    hits = searcher.query(watch.query, k=DEPTH, cutoff=True, filters=watch.filters).hits
    return watches.record(watch, [_row(h) for h in hits], baseline=True)


def evaluate(searcher: Searcher, watches: WatchList, changed_paths: set[str]) -> list[Found]:
    """Run every watch against the index; report the relevant passages of the
    files this run added or changed (`changed_paths`, absolute) that the
    watch has not reported before, nor their near-duplicates."""
    out: list[Found] = []
    if not changed_paths:
        return out
    for watch in watches.all():
        hits = [h for h in searcher.query(watch.query, k=DEPTH, cutoff=True, filters=watch.filters).hits
                if h.path in changed_paths]
        if not hits:
            continue
        known = watches.reported(watch)
        keys = {k.passage_key for k in known}
        texts = [shingles(k.text) for k in known]
        new: list[Hit] = []
        for h in hits:
            own = shingles(h.text)
            if passage_key(h) in keys or any(near_duplicate(own, t) for t in texts):
                continue
            new.append(h)
            texts.append(own)
        if new and watches.record(watch, [_row(h) for h in new]):
            out.append(Found(watch.name, new))
    return out


ATOM = "http://www.w3.org/2005/Atom"


def file_link(hit: WatchHit) -> str:
    """A link to the cited page that works without the app: the file itself."""
    return f"file://{quote(hit.path)}#page={hit.page_start}"


def atom(entries: list[WatchHit], title: str, feed_id: str, links: list[str] | None = None) -> bytes:
    """An Atom 1.0 feed of watch hits, newest first: each entry the passage's
    title, date and § with its snippet, linked to the cited page (`links`,
    one per entry; the file itself by default)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = feed_id
    updated = max((e.found for e in entries), default=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = updated
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "sok"
    for e, href in zip(entries, links or [file_link(e) for e in entries]):
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        where = ", ".join(x for x in (e.organ, e.date, e.item, f"s. {e.page_start}") if x)
        ET.SubElement(entry, f"{{{ATOM}}}title").text = f"{e.title or e.file} ({where})"
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{feed_id}:{quote(e.watch)}:{e.passage_key}"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = e.found
        ET.SubElement(entry, f"{{{ATOM}}}link", href=href)
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = f"[{e.watch}] {e.snippet} — {e.file}, s. {e.page_start}"
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
