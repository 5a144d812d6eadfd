"""Which meeting handled a document that does not say so itself.

A tjänsteskrivelse carries its own date (2018-01-22), not the date of the
meeting that will handle it (2018-02-06); a bilaga filed on its own often
names neither. What links them is the case number: the protokoll or kallelse
of that meeting lists the same "KFKS 2018/53". So the meeting a document
belongs to is the earliest meeting record in the index that lists one of its
case numbers, held on or after the document's own date, by the same organ
where both name one. This reads only content (case numbers, dates, organs),
never file names, and is recomputed over the whole index whenever files
change, because the protokoll may arrive after the tjänsteskrivelse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

# Documents that state the meeting they belong to.
MEETING_TYPES = frozenset({"kallelse", "protokoll", "protokollsutdrag", "protokollsbilaga"})

# A case is handled within months of its tjänsteskrivelse; a listing years later
# (a follow-up report, a budget item) is another matter in the same case.
MAX_DAYS = 365


@dataclass(frozen=True)
class DocRef:
    """What linking needs to know about one logical document."""

    key: int
    doc_type: str | None
    organ: str | None
    meeting_date: str | None
    document_date: str | None
    case_numbers: tuple[str, ...]


@dataclass(frozen=True)
class Handling:
    """The meeting that handled a document: its date and organ, the case number
    that links them, and the meeting record's key."""

    date: str
    organ: str | None
    case_number: str
    meeting_key: int


def _days(later: str, earlier: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days


def _same_organ(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a.casefold() == b.casefold()


def handled_at(docs: Sequence[DocRef], max_days: int = MAX_DAYS) -> dict[int, Handling]:
    """For every document without a stated meeting date that shares a case number
    with a meeting record, the earliest such meeting on or after its own date."""
    by_case: dict[str, list[DocRef]] = {}
    for d in docs:
        if d.doc_type in MEETING_TYPES and d.meeting_date:
            for case in d.case_numbers:
                by_case.setdefault(case, []).append(d)
    out: dict[int, Handling] = {}
    for d in docs:
        if d.meeting_date or d.doc_type in MEETING_TYPES or not d.case_numbers:
            continue
        best: Handling | None = None
        for case in d.case_numbers:
            for m in by_case.get(case, ()):
                assert m.meeting_date is not None
                if not _same_organ(d.organ, m.organ):
                    continue
                if d.document_date and not 0 <= _days(m.meeting_date, d.document_date) <= max_days:
                    continue
                if best is None or m.meeting_date < best.date:
                    best = Handling(m.meeting_date, m.organ, case, m.key)
        if best is not None:
            out[d.key] = best
    return out
