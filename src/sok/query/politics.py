"""A member's or a party's record: every yrkande, vote, reservation and
protokollsanteckning found in the minutes (ingest.politics), with the
yrkanden they joined, each cited to meeting, § and pages. The same § told
in a kallelse, a protokoll and a protokollsutdrag is listed once. And each
hit's status: what its § decided, whether it went to a vote, who reserved."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sok.ingest.politics import outcome_of, party_of, person_key
from sok.records import ItemStatus


class PositionSource(Protocol):
    def position_rows(self, person_key: str | None = None, party: str | None = None) -> list[Any]: ...


class ItemSource(Protocol):
    def item_rows(self, ids: list[int]) -> list[Any]: ...


@dataclass
class PositionEntry:
    date: str | None
    organ: str | None
    item: str | None
    item_title: str | None
    kind: str  # yrkande, röst, reservation, protokollsanteckning
    person: str  # who stated it
    party: str
    stance: str | None
    joined: bool  # the member asked about joined someone else's yrkande
    with_: list[str]  # the others on it ("Sidney Holm (MP)")
    text: str
    file: str
    path: str
    page_start: int
    page_end: int
    passage_id: int = 0

    def label(self) -> str:
        """What the member did, in Swedish: "Yrkande (bifall)", "Röstade ja",
        "Instämde i Helena Westerling (S):s yrkande (återremiss)"."""
        stance = f" ({self.stance})" if self.stance else ""
        if self.joined:
            return f"Instämde i {self.person} ({self.party}):s yrkande{stance}"
        if self.kind == "röst":
            return _VOTED.get(self.stance or "", "Röstade")
        return _KIND.get(self.kind, self.kind) + stance


_KIND = {"yrkande": "Yrkande", "röst": "Röst", "reservation": "Reservation", "protokollsanteckning": "Protokollsanteckning"}
_VOTED = {"ja": "Röstade ja", "nej": "Röstade nej", "avstår": "Avstod", "för": "Röstade"}
KINDS = {"yrkande": ("yrkande", "yrkanden"), "röst": ("röst i en omröstning", "röster i omröstningar"),
         "reservation": ("reservation", "reservationer"),
         "protokollsanteckning": ("protokollsanteckning", "protokollsanteckningar")}  # singular, plural


@dataclass
class PartyVote:
    """How a party's members voted in one omröstning."""

    date: str | None
    organ: str | None
    item: str | None
    item_title: str | None
    counts: dict[str, int]  # "ja" / "nej" / "avstår" / "för" -> members
    members: list[str]  # "Håkan Skaneland: ja"
    text: str  # what the side stood for and the result, as the first member's entry has it
    file: str
    page_start: int
    page_end: int


def party_votes(entries: list[PositionEntry]) -> list[PartyVote]:
    """The votes among `entries` (a party's record) grouped per omröstning,
    oldest first: "ja 2, nej 1" rather than one line per member. Members on
    different sides have different texts, so an omröstning is its § and
    its result sentence (the text after what the side stood for)."""
    out: dict[tuple, PartyVote] = {}
    for e in entries:
        if e.kind != "röst":
            continue
        result = e.text[e.text.find("Med "):] if "Med " in e.text else e.text
        key = (e.date, e.organ, e.item, e.file, result)
        vote = out.setdefault(key, PartyVote(e.date, e.organ, e.item, e.item_title, {}, [], result, e.file,
                                             e.page_start, e.page_end))
        vote.counts[e.stance or "?"] = vote.counts.get(e.stance or "?", 0) + 1
        vote.members.append(f"{e.person}: {e.stance}")
    return list(out.values())


def record(store: PositionSource, name: str | None = None, party: str | None = None) -> list[PositionEntry]:
    """Positions of the member `name` (any spelling with the same first and
    last name) and/or the party `party` (any way of writing it), oldest first."""
    key = person_key(name) if name else None
    code = party_of(party) if party else None
    out: list[PositionEntry] = []
    seen: set[tuple] = set()
    for r in store.position_rows(key, code):
        joined = [(n, p) for n, p in json.loads(r["joined"])]
        members = [(r["person"], r["party"], False)] + [(n, p, True) for n, p in joined]
        match = [(n, p, j) for n, p, j in members
                 if (key is None or person_key(n) == key) and (code is None or party_of(p) == code)]
        if not match:
            continue
        _, _, was_joined = match[0]
        dedupe = (r["date"], r["organ"], r["item"], r["kind"], r["person_key"], r["text"])
        if dedupe in seen:
            continue
        seen.add(dedupe)
        others = [f"{n} ({p})" for n, p, _ in members if (n, p, True) != match[0] and (n, p, False) != match[0]]
        out.append(PositionEntry(
            date=r["date"], organ=r["organ"], item=r["item"], item_title=r["item_title"], kind=r["kind"],
            person=r["person"], party=r["party"], stance=r["stance"], joined=was_joined, with_=others, text=r["text"],
            file=r["relpath"], path=r["path"], page_start=r["page_start"], page_end=r["page_end"],
            passage_id=r["passage_id"],
        ))
    return out


def status(source: ItemSource, ids: list[int]) -> dict[int, ItemStatus]:
    """The status of the § each passage belongs to, read from the § itself:
    its decision's outcome (only a protokoll marks decisions, so a
    kallelse's § has none), an omröstning, the members who reserved.
    Passages outside a §, or in a § with none of these, get no entry."""
    by_source: dict[int, list[Any]] = {}
    for r in source.item_rows(ids):
        by_source.setdefault(r["source"], []).append(r)
    out: dict[int, ItemStatus] = {}
    for pid, rows in by_source.items():
        decision = " ".join(dict.fromkeys(r["text"] for r in rows if r["is_decision"]))
        reserved = list(dict.fromkeys(f"{r['person']} ({r['party']})" for r in rows if r["kind"] == "reservation"))
        item = ItemStatus(outcome_of(decision) if decision else None, any(r["kind"] == "röst" for r in rows), reserved)
        if item.outcome or item.vote or item.reserved:
            out[pid] = item
    return out
