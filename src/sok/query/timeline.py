"""A topic over time: how many passages that clear the relevance cut-off
fall on each meeting date and under each organ, for a chart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sok.query.search import Searcher
from sok.records import Hit

UNKNOWN = "okänt"


@dataclass
class Timeline:
    query: str
    by_date: list[tuple[str, int]] = field(default_factory=list)  # oldest first
    by_organ: list[tuple[str, int]] = field(default_factory=list)  # most first
    hits: list[Hit] = field(default_factory=list)


def meeting_date(hit: Hit) -> str:
    """The one date a hit counts under: its document's, or for an undated
    document (an annual report) the first meeting its passage names. Once,
    so that per date, per organ and the list all count the same passages."""
    return hit.date or (hit.dates[0] if hit.dates else UNKNOWN)


def timeline(searcher: Searcher, query: str, depth: int = 100) -> Timeline:
    hits = searcher.search(query, k=depth, cutoff=True, depth=depth)
    dates = Counter(meeting_date(h) for h in hits)
    organs = Counter(getattr(h, "organ", None) or UNKNOWN for h in hits)
    return Timeline(
        query=query,
        by_date=sorted(dates.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0])),
        by_organ=organs.most_common(),
        hits=hits,
    )
