"""A member's or a party's record: every yrkande, vote, reservation and
protokollsanteckning found in the minutes (ingest.politics), with the
yrkanden they joined, each cited to meeting, § and pages. The same § told
in a kallelse, a protokoll and a protokollsutdrag is listed once. And each
hit's status: what its § decided, whether it went to a vote, who reserved."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from sok.config import ANSWER, AnswerConfig
from sok.ingest.politics import PARTIES, outcome_of, party_of, person_key
from sok.records import Answer, Hit, ItemStatus, Sentence, Source, opening_words, source_place


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
    kind: str  # yrkande, röst, reservation, protokollsanteckning, motion (its author)
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


_KIND = {"yrkande": "Yrkande", "röst": "Röst", "reservation": "Reservation", "protokollsanteckning": "Protokollsanteckning",
         "motion": "Motion"}
_VOTED = {"ja": "Röstade ja", "nej": "Röstade nej", "avstår": "Avstod", "för": "Röstade"}
KINDS = {"yrkande": ("yrkande", "yrkanden"), "röst": ("röst i en omröstning", "röster i omröstningar"),
         "reservation": ("reservation", "reservationer"),
         "protokollsanteckning": ("protokollsanteckning", "protokollsanteckningar"),
         "motion": ("omnämnd motion", "omnämnda motioner")}  # singular, plural


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


# Questions about the members' positions, answered from them rather than from lines
# that share words: "Vem reserverade sig mot beslutet om ...?", "Hur röstade (M) om ...?"
_ASKS = (
    ("reservation", re.compile(r"\breserver(?:ade|ar|at) sig\b|\breservation(?:er|en)?\b", re.I)),
    ("röst", re.compile(r"\bröstade\b|\bomröstning(?:en|ar|arna)?\b|\bvoter(?:ing|ade)\b", re.I)),
    ("protokollsanteckning", re.compile(r"\bprotokollsanteckning(?:ar|en|arna)?\b|\blät anteckna\b", re.I)),
    ("yrkande", re.compile(r"\byrkande(?:n|na|t)?\b|\byrkade\b", re.I)),
)
_PARTY_IN = re.compile(r"\(([A-ZÅÄÖ]{1,3})\)|\b(" + "|".join(sorted(PARTIES, key=len, reverse=True)) + r")\b", re.I)


@dataclass
class Asked:
    kind: str  # yrkande, röst, reservation, protokollsanteckning, motion (its author)
    party: str | None  # a party named in the question


def asked_about(question: str) -> Asked | None:
    """The kind of position a question asks about, and the party it names, if any."""
    kind = next((k for k, pattern in _ASKS if pattern.search(question)), None)
    if kind is None:
        return None
    m = _PARTY_IN.search(question)
    return Asked(kind, party_of(m.group(1) or m.group(2)) if m else None)


class AnswerSource(ItemSource, Protocol):
    def passages(self, ids: Any) -> dict[int, Any]: ...


_COURSE = re.compile(r"\bBeslutsgång\s+(.{10,500}?[.])(?=\s|$)")


def answer_from_positions(source: AnswerSource, question: str, hits: list[Hit], asked: Asked,
                          cfg: AnswerConfig = ANSWER) -> Answer:
    """The positions of the asked kind recorded in the §§ of the best hits
    (those within `cfg.positions_margin` of the best, at most
    `cfg.positions_items` §§), each line the protokoll's own sentence, cited
    to the passage that records it; votes one line per omröstning and side;
    after a § 's yrkanden, its beslutsgång (which yrkande won). Empty when
    those §§ record none, so the caller answers from lines instead."""
    answer = Answer(question)
    items: list[int] = []
    seen_items: set[tuple] = set()
    best = max((h.score for h in hits), default=0.0)
    for h in hits:
        paragraph = (h.file, h.item)
        if (h.item and paragraph not in seen_items and len(items) < cfg.positions_items
                and h.score >= best - cfg.positions_margin):
            seen_items.add(paragraph)
            items.append(h.passage_id)
    every = source.item_rows(items)
    rows = [r for r in every if r["kind"] == asked.kind and (asked.party is None or r["party"] == asked.party)]
    if not rows:
        return answer
    courses = {}  # § (its first passage) -> the passage with its beslutsgång and the sentence
    if asked.kind == "yrkande":
        for r in every:
            if r["source"] not in courses and (m := _COURSE.search(re.sub(r"\s+", " ", r["text"]))):
                courses[r["source"]] = (r["passage_id"], m.group(1))
    cited = source.passages(sorted({r["passage_id"] for r in rows} | {pid for pid, _ in courses.values()}))
    numbers: dict[int, int] = {}

    def cite(pid: int) -> int:
        if pid not in numbers:
            row = cited[pid]
            numbers[pid] = len(numbers) + 1
            answer.sources.append(Source(numbers[pid], row["id"], row["title"], row["organ"], row["date"],
                                         row["relpath"], row["path"], row["page_start"], row["page_end"],
                                         source_place(row["item"], json.loads(row["heading_path"])),
                                         opening_words(row["text"])))
        return numbers[pid]

    def role(kind: str, row: Any) -> str:
        """ "Reservation, kommunstyrelsen § 190 (Motion – Klimatneutral betong)": which matter it concerned."""
        where = " ".join(x for x in (row["organ"], row["item"]) if x)
        title = f" ({row['item_title']})" if row["item_title"] else ""
        return f"{kind}, {where}{title}" if where else kind

    lines: dict[tuple[Any, ...], tuple[Sentence, list[str]]] = {}
    paragraphs: dict[int, list[tuple[Any, ...]]] = {}  # § -> its lines' keys
    for r in rows:
        row = cited.get(r["passage_id"])
        if row is None:
            continue
        if asked.kind == "röst":  # one line per omröstning and side: "Röstade ja: A (M), B (M). ..."
            key: tuple[Any, ...] = (row["item"], row["relpath"], r["said"])
            who = f"{r['person']} ({r['party']})"
            if key in lines:
                lines[key][1].append(who)
            else:
                lines[key] = (Sentence("", row["date"], [cite(r["passage_id"])], role(_KIND["röst"], row)), [who])
            lines[key][0].text = f"{_VOTED.get(r['stance'] or '', 'Röstade')}: {', '.join(lines[key][1])}. {r['said']}"
            continue
        key = (row["item"], row["relpath"], r["said"])  # "A (V) och B (S) yrkar ..." once
        if key not in lines:
            lines[key] = (Sentence(r["said"], row["date"], [cite(r["passage_id"])], role(_KIND[asked.kind], row)), [])
            paragraphs.setdefault(r["source"], []).append(key)
    answer.sentences = [s for s, _ in lines.values()] if not paragraphs else []
    for source_id, keys in paragraphs.items():  # after a § 's yrkanden, how they were put and which won
        answer.sentences += [lines[k][0] for k in keys]
        if (course := courses.get(source_id)) and course[0] in cited:
            answer.sentences.append(Sentence(course[1], lines[keys[-1]][0].date, [cite(course[0])],
                                             role("Beslutsgång", cited[course[0]])))
    answer.sentences.sort(key=lambda s: (s.date is None, s.date or ""))  # stable: a § 's lines stay together
    return answer
