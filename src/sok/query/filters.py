"""Search filters. Filters are applied inside retrieval (a
filter that matches nothing returns nothing, never the unfiltered list)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Filters:
    organ: list[str] = field(default_factory=list)  # any of these organs
    doc_type: list[str] = field(default_factory=list)  # any of these document types
    date_from: str | None = None  # ISO date, inclusive, on the meeting (else document) date
    date_to: str | None = None
    case_number: str | None = None  # normalised like sok.ingest.meeting.normalize_case_number
    decisions_only: bool = False  # only decision text (Beslut in protokoll/protokollsutdrag)

    @property
    def active(self) -> bool:
        return bool(self.organ or self.doc_type or self.date_from or self.date_to or self.case_number or self.decisions_only)
