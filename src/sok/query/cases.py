"""`sok case NUMBER`: every logical document and § that mentions a case, in
date order, with the decision text where there is one, so a clerk can follow
a case from tjänsteskrivelse to protokoll."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator, Protocol

from sok.language import DECISION_TYPES, SECTION_WORDS, complete_case_numbers, normalize_case_number

_STOPS = SECTION_WORDS | {"ärende"}  # minutes also head the background "Ärende"
_DECISION_HEAD = re.compile(r"^(?:.{0,40}s )?beslut:?$", re.IGNORECASE)


def decision_text(text: str) -> str | None:
    """The lines under a "Beslut" heading up to the next section heading
    (Ärendet, Yrkanden, Beslutsgång ...): the decision itself, not its context."""
    lines, taking, out = text.split("\n"), False, []
    for line in lines:
        stripped = line.strip()
        if _DECISION_HEAD.match(stripped):
            taking = True
            continue
        if taking and stripped.rstrip(":").casefold() in _STOPS:
            break
        if taking and stripped:
            out.append(stripped)
    return " ".join(out) or None

_TYPE_ORDER = {"tjänsteskrivelse": 0, "bilaga": 1, "kallelse": 2, "föredragningslista": 2, "protokollsutdrag": 3,
               "protokoll": 4, "protokollsbilaga": 5}



class CaseSource(Protocol):
    """Where case lookups read: the Store, or any SearchBackend."""

    def case_rows(self, number: str) -> list[Any]: ...

    def document_case_numbers(self) -> Iterator[list[str]]: ...

@dataclass
class CaseEntry:
    date: str | None
    doc_type: str | None
    organ: str | None
    title: str
    file: str
    path: str
    item: str | None  # "§ 176", when the case is handled under a §
    item_title: str | None
    page_start: int
    page_end: int
    decision: str | None  # the decision text, in minutes


def case(store: CaseSource, number: str) -> list[CaseEntry]:
    """Documents and items that mention the case, oldest first."""
    number = normalize_case_number(number)
    rows = store.case_rows(number)
    if not rows:  # "2024-00056" typed as the agenda writes it: the case the index knows as "VN-2024-00056"
        number = complete_case_numbers([number], {n for ns in store.document_case_numbers() for n in ns})[0]
        rows = store.case_rows(number)
    groups: dict[tuple[int, str | None], list] = {}
    for r in rows:
        # In a document that only mentions the case inside some §, keep those §; else the whole document.
        groups.setdefault((r["doc"], r["item"]), []).append(r)
    items_with_case = {key for key, rs in groups.items() if key[1] and any(r["in_passage"] for r in rs)}
    entries = []
    for (doc, item), rs in groups.items():
        if item and (doc, item) not in items_with_case:
            continue
        if not item and any(k[0] == doc for k in items_with_case):
            continue  # the § that handle the case stand for their document (not its table of contents)
        first = rs[0]
        decision = decision_text("\n".join(r["text"] for r in rs)) if first["doc_type"] in DECISION_TYPES else None
        entries.append(CaseEntry(
            date=first["date"], doc_type=first["doc_type"], organ=first["organ"], title=first["title"],
            file=first["relpath"], path=first["path"], item=item, item_title=first["item_title"],
            page_start=min(r["page_start"] for r in rs), page_end=max(r["page_end"] for r in rs),
            decision=decision[:600] if decision else None,
        ))
    entries.sort(key=lambda e: (e.date or "9999", _TYPE_ORDER.get(e.doc_type or "", 9), e.file, e.page_start))
    return entries


def case_numbers(store: CaseSource) -> list[tuple[str, int]]:
    """Every case number in the index with the number of documents that name it."""
    counts: dict[str, int] = {}
    for numbers in store.document_case_numbers():
        for n in numbers:
            counts[n] = counts.get(n, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
