"""Search filters and facet counts. Filters are applied inside retrieval (a
filter that matches nothing returns nothing, never the unfiltered list)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .records import Hit


@dataclass
class Filters:
    organ: list[str] = field(default_factory=list)  # any of these organs
    doc_type: list[str] = field(default_factory=list)  # any of these document types
    date_from: str | None = None  # ISO date, inclusive, on the meeting (else document) date
    date_to: str | None = None
    case_number: str | None = None  # normalised like sok.meeting.normalize_case_number
    decisions_only: bool = False  # only decision text (Beslut in protokoll/protokollsutdrag)

    @property
    def active(self) -> bool:
        return bool(self.organ or self.doc_type or self.date_from or self.date_to or self.case_number or self.decisions_only)


def facets(hits: list[Hit]) -> dict[str, list[tuple[str, int]]]:
    """Counts per organ, document type and year over a result list, most first."""
    organ = Counter(h.organ or "okänt" for h in hits)
    doc_type = Counter(h.doc_type or "okänt" for h in hits)
    year = Counter((h.date or "okänt")[:4] for h in hits)
    return {"organ": organ.most_common(), "doc_type": doc_type.most_common(), "year": sorted(year.items())}
