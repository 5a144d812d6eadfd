"""Who proposed, who reserved, who noted what: the positions a protokoll
records per §, read from its own wording ("Mats Gerdau (M) yrkade bifall
till verksamhetsutskottets förslag", "Khashayar Farmanbar (S) och Sidney
Holm (MP) reserverade sig mot beslutet", "Hans Peters (C) lät anteckna
följande ..."). A structure stage: it sees a passage's text and gives plain
records; the store keeps them with the passage, so each one cites its §,
pages and meeting.

Names are kept as written and given a key (first and last name, case and
hyphens aside) under which "Esa Pekka Örmä" and "Esa Örmä" are one person;
parties are one abbreviation however they are written ("(S)",
"Socialdemokraterna")."""

from __future__ import annotations

import re

from sok.language import SECTION_WORDS
from sok.records import Position

PARTIES = {
    "socialdemokraterna": "S", "moderaterna": "M", "liberalerna": "L", "folkpartiet": "L", "centerpartiet": "C",
    "kristdemokraterna": "KD", "vänsterpartiet": "V", "miljöpartiet": "MP", "sverigedemokraterna": "SD",
    "nackalistan": "NL", "svenska folkpartiet": "SFP",
}

_NAME = r"[A-ZÅÄÖÉ][a-zåäöéü]+(?:[ -](?:[A-ZÅÄÖÉ][a-zåäöéü]+|von|af|de)){1,3}"
_PARTY = r"[A-ZÅÄÖ][A-ZÅÄÖa-zåäö]{0,3}"
_ACTOR = re.compile(rf"({_NAME})\s*\(\s*({_PARTY})\s*\)")
_VERBS = (
    ("yrkande", re.compile(r"\b(?:yrkade|yrkar)\b")),
    ("reservation", re.compile(r"\breserver(?:ade|ar) sig\b|\banmälde reservation\b")),
    ("protokollsanteckning", re.compile(r"\blät anteckna\b|\bantecknar\b|\banmälde (?:en )?protokollsanteckning\b")),
)
_JOINED = re.compile(r"med instämmande av (.*?)(?:,\s*(?=bifall|avslag|att\b)|\s(?=bifall|avslag|att\b)|$)")
_STANCES = (
    ("återremiss", re.compile(r"återremi(?:ss|tter)", re.I)),
    ("bordläggning", re.compile(r"bordl(?:ägg|agd|äggning)", re.I)),
    ("avslag", re.compile(r"\bavslag|\bavslå", re.I)),
    ("bifall", re.compile(r"\bbifall|\bbifalla", re.I)),
    ("ändring", re.compile(r"\bändring|\bändrad", re.I)),
    ("tillägg", re.compile(r"\btillägg", re.I)),
)
_SENTENCE = re.compile(r"(?<=[.!?”\"])\s+(?=[A-ZÅÄÖ])")
# Words that stand before a name once a page's lines are joined: the § 's part
# headings ("Yrkanden Mats Gerdau (M) yrkade") and titles ("Ordförande Lisa Andersson (M)").
_NOT_NAME = {w for w in SECTION_WORDS if " " not in w} | {
    "ärende", "ordförande", "vice", "ledamot", "ledamöter", "ersättare", "kommunalråd", "oppositionsråd", "gruppledare",
}


def _name(written: str) -> str | None:
    """The member's name out of the capitalised words before "(PARTI)":
    those after the last heading or title word, at most three."""
    words = written.split()
    cut = max((i for i, w in enumerate(words) if w.casefold() in _NOT_NAME), default=-1)
    words = words[cut + 1:][-3:]
    return " ".join(words) if len(words) >= 2 else None


def party_of(written: str) -> str:
    """One abbreviation per party, however it is written."""
    w = written.strip().strip("()").strip()
    return PARTIES.get(w.casefold(), w.upper() if len(w) <= 4 else w)


def person_key(name: str) -> str:
    """First and last name, case and hyphens aside: "Esa Pekka Örmä" and
    "Esa Örmä" are one member, "Grudevall-Steen" and "Grudevall Steen" too."""
    parts = name.replace("-", " ").casefold().split()
    return f"{parts[0]} {parts[-1]}" if len(parts) >= 2 else name.casefold()


def _stance(rest: str) -> str | None:
    """What a yrkande asks for: the earliest of the outcome words in it."""
    found = [(m.start(), name) for name, pattern in _STANCES if (m := pattern.search(rest))]
    return min(found)[1] if found else None


def _subjects(head: str) -> list[re.Match]:
    """The members the verb is about: the run of "Namn (P)" that ends right
    before it, joined by commas, "och" or "samt" ("A (S), B (V) och C (MP)
    reserverade sig"); none when the verb does not follow a member, so a name
    earlier in the sentence is never taken for its subject."""
    found = list(_ACTOR.finditer(head))
    if not found or head[found[-1].end():].strip(" ,"):
        return []
    run = [found[-1]]
    for before in reversed(found[:-1]):
        if head[before.end():run[0].start()].strip(" ,") not in ("", "och", "samt"):
            break
        run.insert(0, before)
    return run


def positions(text: str) -> list[Position]:
    """Every yrkande, reservation and protokollsanteckning stated in `text`,
    in order; one per member named before the verb ("A (S) och B (MP)
    reserverade sig" is two), with the members who joined a yrkande ("med
    instämmande av ...") listed on it."""
    flat = re.sub(r"\s+", " ", text.replace("\u00ad", ""))
    out: list[Position] = []
    for sentence in _SENTENCE.split(flat):
        for kind, verb in _VERBS:
            m = verb.search(sentence)
            if not m:
                continue
            head, rest = sentence[:m.start()], sentence[m.end():]
            subjects = _subjects(head)
            if not subjects:
                continue
            actors = [(a.group(1), a.group(2)) for a in subjects]
            start = subjects[0]
            joined: list[tuple[str, str]] = []
            if kind == "yrkande" and (j := _JOINED.search(rest)):
                joined = [(n, party_of(p)) for w, p in _ACTOR.findall(j.group(1)) if (n := _name(w))]
                rest = rest[j.end():]
            # a yrkande with none of the outcome words proposes something of its own ("yrkade att ...")
            stance = (_stance(rest) or "eget förslag") if kind == "yrkande" else None
            names = [(_name(written), party) for written, party in actors]
            said = sentence[start.start():].strip()
            if names and names[0][0]:  # from the member on, not the heading the page put before the name
                said = said[said.find(names[0][0]):]
            for name, party in names:
                if name:
                    out.append(Position(kind=kind, person=name, person_key=person_key(name), party=party_of(party),
                                        stance=stance, joined=joined, text=said))
            break
    return out
