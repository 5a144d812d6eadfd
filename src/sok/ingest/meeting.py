"""How meeting records are built, read from their content (never from file
names): one file often carries several logical documents (a kallelse with its
tjänsteskrivelser and bilagor, a protokoll "med bilagor"), each with a type,
an organ, a meeting date, case numbers and agenda items (§ or ärenden) whose
parts (Beslut, Ärendet, Yrkanden, ...) tell a decision from a proposal.

Running headers and footers carry most of these signals ("1 (5)",
"SAMMANTRÄDESPROTOKOLL", "Protokoll 28.03.2023 Sida"), and cleaning drops them
as boilerplate, so page signals are read from the normalised original text
(`page.text`), while every offset refers to `page.clean`, the text passages
are cut from.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

from sok.ingest.clean import normalize
from sok.language import (
    DECISION_TYPES,
    ORGAN_ABBREVIATIONS,
    find_case_numbers,
    find_municipality,
    first_date,
    iso_date,
    organ_in_line,
)
from sok.records import Page

_MEETING_TYPES = frozenset(
    {"kallelse", "protokoll", "protokollsutdrag", "protokollsbilaga", "föredragningslista", "handlingar"}
)
_AGENDA_TYPES = frozenset({"kallelse", "föredragningslista", "handlingar"})

HEAD_LINES = 12  # non-empty lines at the top of a page that form its header zone
FOOT_LINES = 8
LONG_PAGE = 8000  # chars; a "page" this long is a whole text file without page breaks

# ---------------------------------------------------------------- data


class Part(NamedTuple):
    """A named section of an item on one page; a section over two pages is two Parts."""

    name: str
    page: int
    char_start: int
    char_end: int


@dataclass
class AgendaItem:
    """A § in minutes or an ärende in a kallelse. Offsets: char_start in the clean
    text of page_start, char_end in that of page_end."""

    number: str
    title: str
    case_numbers: list[str] = field(default_factory=list)
    page_start: int = 1
    page_end: int = 1
    parts: list[Part] = field(default_factory=list)
    char_start: int = 0
    char_end: int = 0
    presenters: list[str] = field(default_factory=list)  # who presents it, where the agenda says


@dataclass
class LogicalDocument:
    """One document inside a file, on physical pages page_start..page_end.
    meeting_date is the date of the meeting the document belongs to when the
    content states it; document_date is the date the document itself carries
    (a tjänsteskrivelse is dated before the meeting that handles it)."""

    title: str
    doc_type: str
    organ: str | None
    municipality: str | None
    meeting_date: str | None
    case_numbers: list[str]
    presenters: list[str]
    page_start: int
    page_end: int
    items: list[AgendaItem] = field(default_factory=list)
    document_date: str | None = None
    char_start: int = 0  # in the clean text of page_start
    char_end: int = 0  # in the clean text of page_end
    parts: list[Part] = field(default_factory=list)  # parts outside any item
    parent: int | None = None  # index of the document a resumed part continues


# ---------------------------------------------------------------- page signals

_NUMBERING = re.compile(r"(?<![\d/.,])(\d{1,3})\s*\(\s*(\d{1,3})\s*\)")
_NUMBERING_LINE = re.compile(r"^(\d{1,3})\s*/\s*(\d{1,3})$")
_STAMP = re.compile(r"^Bilaga\s+([A-ZÅÄÖ][^,\n]{2,80}),\s*(\d{1,2}\.\d{1,2}\.\d{4})\s*§\s*(\d+)")
_FOOTER = re.compile(r"^(Protokoll|Föredragningslista)\s+(\d{1,2}\.\d{1,2}\.\d{4})\s+Sida\b", re.IGNORECASE)
_LABEL_WORDS = ("datum", "beteckning", "dnr", "diarienummer", "handläggare", "tjänsteställe", "föredragningspm")
_TO_ABBREV = re.compile(r"\bTILL ([A-ZÅÄÖ]{2,5})\b")
_ABBREV_PROTOCOL = re.compile(r"^([A-ZÅÄÖ]{2,5})\s+protokoll\s+från\b", re.IGNORECASE)

# Header lines that name a document type, most specific first: (type, pattern,
# how many head lines to search; 99: head and foot).
_HEADER_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("protokollsbilaga", re.compile(r"^(?:\w+\s+)?protokoll från\b.*\bbilaga\b|^protokollsbilaga\b", re.I), 6),
    ("protokollsutdrag", re.compile(r"^(?:protokollsutdrag|utdrag ur protokoll)(?!.*intygas)", re.I), 6),
    ("bilaga", _STAMP, HEAD_LINES),
    ("protokoll", re.compile(r"^protokoll\s+\d{1,2}/\d{4}$|^protokoll\s+\d{1,2}\.\d{1,2}\.\d{4}\s+sida", re.I), 99),
    ("kallelse", re.compile(r"^kallelse\b|\bkallas till sammanträde\b", re.I), HEAD_LINES),
    ("föredragningslista", re.compile(r"^föredragningslista(?:\s+\d{1,2}\.\d{1,2}\.\d{4}\s+sida|$)|^ärenden som skall behandlas", re.I), 99),
    ("tjänsteskrivelse", re.compile(r"^tjänsteskrivelse$|föredragningspm$", re.I), HEAD_LINES),
    ("bilaga", re.compile(r"^(?:\d{1,3}\s*\(\d{1,3}\)\s*)?bilaga(?:\s*\d+)?(?:[.:]|\s*$|\s+[A-ZÅÄÖ])", re.I), 4),
)
# Title words that name a type, also where no header does.
_TITLE_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("återrapportering", re.compile(r"^#*\s*återrapportering\b", re.I), 3),
    ("budgetskrivelse", re.compile(r"^budgetskrivelse\b", re.I), 3),
    ("översiktsplan", re.compile(r"\böversiktsplan\b", re.I), 3),
    ("motion", re.compile(r"^motion\s+(?:från|till|om|angående)\b", re.I), 3),
    ("informationsbrev", re.compile(r"^informationsbrev\b|^till (?:alla )?(?:vårdnadshavare|föräldrar)\b", re.I), 3),
    ("föredragningslista", re.compile(r"^föredragningslista\b", re.I), 3),
    ("handlingar", re.compile(r"^handlingar\b", re.I), 2),
    ("rapport", re.compile(r"^rapport$", re.I), 4),
    ("presentation", re.compile(r"^presentation\b", re.I), 2),
    ("prognos", re.compile(r"\bprognos\b", re.I), 3),
)
_TYPE_RULES = _HEADER_RULES + _TITLE_RULES


def _is_protocol_header(line: str) -> bool:
    """SAMMANTRÄDESPROTOKOLL, also through OCR damage ("SAMMANTRÄDESPROT0l<OLL")."""
    letters = re.sub(r"[^A-ZÅÄÖ]", "", line.upper().replace("0", "O"))
    return "SAMMANTR" in letters and "DESPROT" in letters


def _header_type(head: list[str], foot: list[str]) -> str | None:
    """The document type a page's header (or a Nykarleby-style footer) names."""
    lines = head + foot
    for kind, pattern, depth in _TYPE_RULES:
        if kind == "protokoll" and any(_is_protocol_header(x) for x in head[:6]):
            return "protokoll"
        scope = head[:depth] if depth < 99 else lines
        if any(pattern.search(x) for x in scope):
            return kind
    return None


def _rejoin(zone: list[str]) -> list[str]:
    """Lines with a page number split by extraction ("100 (131" + ")") joined again."""
    out: list[str] = []
    for line in zone:
        if out and re.search(r"\(\s*\d{1,3}$", out[-1]) and line.startswith(")"):
            out[-1] += line
        else:
            out.append(line)
    return out


def _numbering(head: list[str], foot: list[str]) -> tuple[int, int] | None:
    """Page numbering "n (m)" at the start or end of a header or footer line
    (not inside a table row: "HME 84 (84) 84 (83)"), or a bare "n/m" line."""
    for zone in (head[:6], foot[-FOOT_LINES:]):
        for line in _rejoin(zone):
            found = [m for m in _NUMBERING.finditer(line) if m.start() == 0 or m.end() == len(line)]
            found += [m] if (m := _NUMBERING_LINE.match(line)) else []
            for m in found:
                n, total = int(m.group(1)), int(m.group(2))
                if 1 <= n <= total:
                    return n, total
    return None


def _is_label_row(line: str) -> bool:
    """A letterhead label row ("Tjänsteställe, handläggare Datum Beteckning")."""
    low = line.casefold()
    return not re.search(r"\d", low) and sum(w in low for w in _LABEL_WORDS) >= 2


def _letterhead(head: list[str]) -> tuple[bool, str | None]:
    """(has a letterhead, its kind): a label row, or a value row with a date and a Dnr."""
    for line in head[:8]:
        if _is_label_row(line):
            return True, "pm" if "föredragningspm" in line.casefold() else "skrivelse"
        if re.search(r"\bDnr\b", line) and first_date(line) and not line.lstrip().startswith("§"):
            return True, None
    return False, None


@dataclass
class _Segment:
    """A page, or a slice of an over-long page, with the signals its header gives."""

    page: int
    start: int
    end: int
    head: list[str]
    foot: list[str]
    text: str
    doc_type: str | None = None
    numbering: tuple[int, int] | None = None
    letterhead: bool = False
    letter_kind: str | None = None
    dnr: str | None = None
    stamp: str | None = None
    stamp_organ: str | None = None
    email: bool = False
    virtual: bool = False  # cut from an over-long page at a header line

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def _filled(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _with_signals(seg: _Segment) -> _Segment:
    seg.doc_type = _header_type(seg.head, seg.foot)
    seg.numbering = _numbering(seg.head, seg.foot)
    seg.letterhead, seg.letter_kind = _letterhead(seg.head)
    cases = find_case_numbers("\n".join(x for x in seg.head[:8] if not x.startswith("§")))
    seg.dnr = cases[0] if cases else None
    for line in seg.head + seg.foot:
        if m := _STAMP.match(line):
            seg.stamp = f"{m.group(1).strip().lower()} {m.group(2)} § {m.group(3)}"
            seg.stamp_organ = m.group(1).strip()
            break
    seg.email = bool(seg.head) and seg.head[0].startswith("Från:") and any(
        x.startswith(("Ämne:", "Skickat:")) for x in seg.head[:6]
    )
    return seg


_CUT_LINE = re.compile(r"^(?:bilaga(?:\s+\d+)?|kallelse|tjänsteskrivelse|protokoll)$", re.IGNORECASE)


def _virtual_cuts(text: str) -> list[int]:
    """Offsets where a document may start inside an over-long page: letterheads
    and bare type headers, each also the top of an original page."""
    cuts, pos, prev = [0], 0, ""
    for line in text.split("\n"):
        stripped = line.strip()
        value_row = bool(re.search(r"\bDnr\b", stripped) and first_date(stripped)) and not _is_label_row(prev)
        if pos and (_is_label_row(stripped) or value_row or _CUT_LINE.match(stripped)):
            cuts.append(pos)
        if stripped:
            prev = stripped
        pos += len(line) + 1
    return cuts


def _segments(pages: list[Page]) -> list[_Segment]:
    segs: list[_Segment] = []
    for page in pages:
        clean = page.clean
        if len(clean) > LONG_PAGE:
            cuts = _virtual_cuts(clean) + [len(clean)]
            for start, end in zip(cuts, cuts[1:]):
                lines = _filled(clean[start:end])
                segs.append(_Segment(page.number, start, end, lines[:HEAD_LINES], [], clean[start:end], virtual=True))
        else:
            raw = _filled(normalize(page.text)) if page.text.strip() else _filled(clean)
            segs.append(_Segment(page.number, 0, len(clean), raw[:HEAD_LINES], raw[-FOOT_LINES:], clean))
    return [_with_signals(s) for s in segs]


# ---------------------------------------------------------------- boundaries


@dataclass
class _State:
    """What the document being built has shown so far."""

    segments: list[_Segment]
    doc_type: str | None = None
    numbering: tuple[int, int] | None = None  # of the latest segment, if it had one
    had_numbering: bool = False
    dnr: str | None = None
    letter_kind: str | None = None
    letterhead: bool = False
    stamp: str | None = None

    def add(self, seg: _Segment) -> None:
        self.segments.append(seg)
        if seg.empty:
            return
        self.doc_type = self.doc_type or seg.doc_type
        self.numbering = seg.numbering
        self.had_numbering = self.had_numbering or seg.numbering is not None
        self.dnr = self.dnr or seg.dnr
        self.letter_kind = self.letter_kind or seg.letter_kind
        self.letterhead = self.letterhead or seg.letterhead
        self.stamp = seg.stamp


_SAME_KIND = {"protokollsutdrag": "protokoll"}


def _numbering_says(state: _State, seg: _Segment) -> bool | None:
    """True: a new document; False: surely the same one; None: numbering is silent."""
    last, now = state.numbering, seg.numbering
    if last and last[0] == last[1]:
        return True  # the previous page was the last one of its document
    if now is None:
        return None
    if last and now == (last[0] + 1, last[1]):
        return False
    if now[0] == 1:
        cover = len(state.segments) == 1 and not state.had_numbering
        same = seg.doc_type in (None, state.doc_type) or state.doc_type is None
        return not (cover and same)
    if last and now[1] != last[1]:
        return True
    return None


def _starts_new(state: _State, seg: _Segment) -> bool:
    """Does `seg` open a new logical document after the one in `state`?"""
    if seg.empty:
        return False
    said = _numbering_says(state, seg)
    if said is not None:
        return said
    if seg.email:
        return True
    if seg.stamp != state.stamp and (seg.stamp or seg.doc_type):
        return not (seg.stamp and state.doc_type is None and state.stamp is None)
    new_type, cur_type = seg.doc_type, state.doc_type
    if new_type and new_type != cur_type:
        if cur_type is None:  # a cover page, a bilaga stamped on one of its pages, a PM's 2nd page
            if seg.dnr and seg.dnr == state.dnr:
                return False
            return seg.virtual or (len(state.segments) > 2 and new_type != "bilaga")
        return _SAME_KIND.get(new_type, new_type) != _SAME_KIND.get(cur_type, cur_type)
    if seg.letter_kind and state.letter_kind and seg.letter_kind != state.letter_kind:
        return True
    if seg.letterhead and not state.letterhead and cur_type not in ("protokoll", "protokollsutdrag"):
        return True  # a PM's letterhead after the kallelse it is packed with
    letter_doc = seg.letterhead or new_type == "tjänsteskrivelse"
    return bool(letter_doc and seg.dnr and state.dnr and seg.dnr != state.dnr and cur_type not in _MEETING_TYPES)


def _group(segments: list[_Segment]) -> list[list[_Segment]]:
    groups: list[_State] = []
    for seg in segments:
        if groups and not _starts_new(groups[-1], seg):
            groups[-1].add(seg)
        else:
            state = _State([])
            state.add(seg)
            groups.append(state)
    return [g.segments for g in groups]


# ---------------------------------------------------------------- document metadata

# Case-sensitive on purpose: a wrapped body line "sammanträde den 3 juni 2019."
# is a reference to another meeting, the label "Sammanträde ..." is not.
_MEETING_LABEL = re.compile(
    r"^Sammantr\w*|[Ss]ammanträdesdatum|^Mötesdatum|^Dag\b|[Pp]rotokoll från"
    r"|^(?:Protokoll|Föredragningslista)(?=\s+\d{1,2}\.\d{1,2}\.\d{4}\s+Sida)|^Bilaga\s+[A-ZÅÄÖ][^,\n]+,"
)
_TITLE_SKIP = re.compile(
    r"^(?:postadress|besöksadress|e-post|tel|telefon|www\.|https?:|sida\b|datum$|diarienummer$|upprättad$|"
    r"dnr\b|tjänsteskrivelse$|kallelse|bilaga(?:\s*\d+)?\.?$|rapport$|organ$|\[tabell|\||innehåll$)",
    re.IGNORECASE,
)
_PROPOSAL_HEAD = re.compile(r"^(?:förslag till beslut|beslutsförslag)(?:\s+i\s+(.+))?:?$", re.IGNORECASE)
_VERBS = r"(?:beslutar|föreslår|noterar|godkänner|antar|fastställer|ger|tillstyrker|avslår|överlämnar|lämnar|utser)"
_SUBJECT = re.compile(r"^(.{3,90}?)\s+" + _VERBS + r"\b")
_PRESENTER = re.compile(r"Föredragande\s*:\s*([^\n]+)")
_PRESENTER_AFTER = re.compile(r"^([A-ZÅÄÖ][\w-]+(?: [A-ZÅÄÖ][\w-]+){1,2}), [^\n]*\bföredragande\b", re.MULTILINE)
_NAME = re.compile(r"^[A-ZÅÄÖ][\w-]+(?: [A-ZÅÄÖ][\w-]+){1,3}$")


def _meeting_date(lines: list[str]) -> str | None:
    """A date written next to a meeting label ("Sammanträdesdatum", "Sammanträde
    tisdagen den 27 maj 2025", "Protokoll 28.03.2023 Sida"), or on the line after it."""
    for i, line in enumerate(lines):
        m = _MEETING_LABEL.search(line)
        if not m:
            continue
        if d := first_date(line[m.start():]):
            return d
        if i + 1 < len(lines) and (d := first_date(lines[i + 1])) and len(lines[i + 1]) < 90:
            return d
    return None


def _document_date(zone: list[str]) -> str | None:
    """The date a document carries at its top; a lone "21-02-01" line counts too."""
    for line in zone[:4]:
        if m := re.fullmatch(r"(\d\d)-(\d\d)-(\d\d)", line):
            return iso_date(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return first_date("\n".join(zone))


def _zone(group: list[_Segment], first: int = 2) -> list[str]:
    lines: list[str] = []
    for seg in [s for s in group if not s.empty][:first]:
        lines += seg.head + seg.foot
    return lines


def _organ_votes(group: list[_Segment], doc_type: str) -> Counter[str]:
    """Weighted organ candidates: labels and proposal subjects count most, then
    a header line that is just an organ name, then each footer or stamp."""
    votes = _head_votes(_zone(group)) + _footer_votes(group)
    subject = _proposal_organ(group)
    if subject:
        votes[subject] += 6 if doc_type == "tjänsteskrivelse" else 1
    return votes


def _head_votes(head: list[str]) -> Counter[str]:
    votes: Counter[str] = Counter()
    for i, line in enumerate(head):
        nxt = head[i + 1] if i + 1 < len(head) else ""
        if m := re.search(r"\bOrgan(?:isation)?\s*:?\s*(.*)$", line):
            if organ := organ_in_line(m.group(1) or nxt):
                votes[organ] += 4
        if re.match(r"^Sammanträde med:?$", line) and (organ := organ_in_line(nxt)):
            votes[organ] += 4
        if m := re.match(r"^(.+?)\s+kallas till sammanträde", line):
            if organ := organ_in_line(m.group(1)):
                votes[organ] += 4
        if (m := _ABBREV_PROTOCOL.match(line)) and m.group(1).upper() in ORGAN_ABBREVIATIONS:
            votes[ORGAN_ABBREVIATIONS[m.group(1).upper()]] += 3
        if (m := _TO_ABBREV.search(line)) and m.group(1) in ORGAN_ABBREVIATIONS:
            votes[ORGAN_ABBREVIATIONS[m.group(1)]] += 2  # "VÄLFÄRD SKOLA - TILL KSVU": addressed to it
        if organ := organ_in_line(line):
            votes[organ] += 2
    return votes


def _footer_votes(group: list[_Segment]) -> Counter[str]:
    """Nykarleby footers ("Protokoll 28.03.2023 Sida" + organ) and bilaga stamps,
    one vote per page: many correct pages outvote one garbled header."""
    votes: Counter[str] = Counter()
    for seg in group[:12]:
        for i, line in enumerate(seg.foot[:-1]):
            if _FOOTER.match(line) and (organ := organ_in_line(seg.foot[i + 1])):
                votes[organ] += 1
        if seg.stamp_organ and (organ := organ_in_line(seg.stamp_organ)):
            votes[organ] += 1
    return votes


def _proposal_organ(group: list[_Segment]) -> str | None:
    """The organ a proposal is put to: "Förslag till beslut i valnämnden", or the
    subject of its first sentence ("Kommunstyrelsens verksamhetsutskott föreslår ...")."""
    lines = _filled("\n".join(s.text for s in group[:2]))
    for i, line in enumerate(lines[:80]):
        m = _PROPOSAL_HEAD.match(line)
        if not m:
            continue
        if m.group(1) and (organ := organ_in_line(m.group(1))):
            return organ
        if i + 1 < len(lines) and (s := _SUBJECT.match(lines[i + 1])):
            return organ_in_line(s.group(1))
        return None
    return None


def _content_type(group: list[_Segment], first_doc: bool) -> str:
    """A type when no header names one: from title words, or the shape of a
    tjänsteskrivelse (a Dnr and a proposal at the top)."""
    lines = _filled(group[0].text)[:6] if group else []
    for kind, pattern, depth in _TITLE_RULES:
        if any(pattern.search(x) for x in lines[:depth]):
            return kind
    top = "\n".join(_filled("\n".join(s.text for s in group[:1]))[:40])
    if any(s.dnr or s.letterhead for s in group[:1]) and re.search(r"^förslag till beslut", top, re.I | re.M):
        return "tjänsteskrivelse"
    if re.search(r"\brapportering\b", "\n".join(lines[:8]), re.IGNORECASE):
        return "återrapportering"
    return "other" if first_doc else "bilaga"


def _doc_type(group: list[_Segment], first_doc: bool) -> str:
    kind = next((s.doc_type for s in group if s.doc_type), None) or _content_type(group, first_doc)
    numbered = next((s.numbering for s in group if s.numbering), None)
    if kind == "protokoll" and numbered and group[0].numbering and group[0].numbering[0] > 1:
        return "protokollsutdrag"  # pages 9 (93) of a protocol: an extract
    return kind


def _not_title(text: str) -> bool:
    """Letterhead, address, label and number lines that precede a real title."""
    letters = sum(ch.isalpha() for ch in text)
    return bool(
        _TITLE_SKIP.match(text) or organ_in_line(text) or find_case_numbers(text) == [text]
        or _is_label_row(text) or (re.search(r"\bDnr\b", text) and first_date(text))
        or first_date(text) == text or letters < 0.6 * len(text) or len(text) > 140
        or _NUMBERING.fullmatch(text) or _PROPOSAL_HEAD.match(text) or _is_protocol_header(text)
        or (len(text) < 40 and find_municipality(text) is not None and len(text.split()) <= 4)
        or "@" in text or re.search(r"\b\d{3} ?\d{2} [A-ZÅÄÖ]", text)  # an address
    )


def _title(group: list[_Segment], doc_type: str, organ: str | None, date: str | None, items: list[AgendaItem]) -> str:
    """A readable title: for minutes and notices "<Type> <organ> <date>", for an
    extract its §, else the first line that reads like a heading (joined with
    the lines that continue it)."""
    if doc_type in ("protokoll", "kallelse", "föredragningslista", "handlingar"):
        return " ".join(x for x in (doc_type.capitalize(), organ, date) if x)
    if doc_type == "protokollsutdrag" and items:
        return f"Protokollsutdrag § {items[0].number} {items[0].title}".strip()
    lines = _filled("\n".join(s.text for s in group[:2]))
    for i, line in enumerate(lines[:30]):
        text = line.lstrip("#").strip()
        if _not_title(text):
            continue
        for nxt in lines[i + 1:i + 4]:
            shouting = text.isupper() and nxt.isupper()  # a title set in capitals over lines
            if not (nxt[0].islower() or shouting) or len(text) + len(nxt) > 160 or _PROPOSAL_HEAD.match(nxt):
                break
            text = f"{text} {nxt}"
        if len(text.split()) >= 2:
            return text.rstrip(" .:")
    return doc_type.capitalize()


def _presenters(text: str) -> list[str]:
    names: list[str] = []
    for m in _PRESENTER.finditer(text):
        value = re.split(r"\s{2,}|\bDiarienummer\b|\bDnr\b", m.group(1))[0]
        for name in re.split(r"/|,| och ", value):
            if _NAME.match(name.strip()):
                names.append(name.strip())
    names += [m.group(1) for m in _PRESENTER_AFTER.finditer(text)]
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------- items and parts

_PART_NAMES = (
    ("Beslut", re.compile(r"^(?:beslut|[\wåäö]+(?:ens|ets|s) beslut)$", re.I)),
    ("Yrkanden", re.compile(r"^förslag till beslut på sammanträdet$", re.I)),  # motions made at the meeting
    ("Förslag till beslut", re.compile(r"^(?:förslag till beslut(?:\s+i\s+.+)?|beslutsförslag|förslag|.{3,80}s förslag)$", re.I)),
    ("Ärendet", re.compile(r"^(?:ärendet|ärende|ärendebeskrivning|sammanfattning av ärendet|beskrivning av ärendet)$", re.I)),
    ("Handlingar i ärendet", re.compile(r"^(?:handlingar i ärendet|beslutsunderlag)$", re.I)),
    ("Yrkanden", re.compile(r"^yrkanden?$", re.I)),
    ("Beslutsgång", re.compile(r"^(?:beslutsgång|propositionsordning)$", re.I)),
    ("Reservationer", re.compile(r"^reservation(?:er)?$", re.I)),
    ("Protokollsanteckningar", re.compile(r"^protokollsanteckning(?:ar)?$", re.I)),
)
# Headings that end a part without starting a named one.
_OTHER_HEADING = re.compile(
    r"^(?:sammanfattning|bakgrund|ekonomiska konsekvenser|beslutet skickas till|expedieras till|expediering|"
    r"ärendets tidigare behandling|tidigare behandling|beredning|skickas till|bedömning|förvaltningens bedömning|"
    r"motivering|bilagor|konsekvenser.{0,60}|verkställighetsbeslut.*|- - - - -)\s*:?$",
    re.IGNORECASE,
)
_PARA_ITEM = re.compile(r"^§\s*(\d+)\s*(forts\.?)?\s*(.*)$", re.IGNORECASE)
_NUM_PARA_ITEM = re.compile(r"^(\d{1,4})\s*§\s+(\S.*)$")
_NUMBERED_ITEM = re.compile(r"^(\d{1,2})\\?\.\s+(\S.*)$")
_TABLE_ITEM = re.compile(r"^\|\s*(\d{1,2})\\?\.\s*\|\s*([^|]*)\|\s*([^|]*)\|")
_LEADER = re.compile(r"\.{4,}|…{2,}")
_FOOTER_ITEM = re.compile(r"^(\d{1,4})\s*§$")


class _Line(NamedTuple):
    page: int
    start: int
    end: int
    text: str


def _lines(group: list[_Segment]) -> list[_Line]:
    """Every line of the document, with its page and offsets in the clean text."""
    out: list[_Line] = []
    for seg in group:
        pos = seg.start
        for line in seg.text.split("\n"):
            out.append(_Line(seg.page, pos, pos + len(line), line.strip()))
            pos += len(line) + 1
    return out


def _part_name(line: str) -> str | None:
    """The canonical part a heading line opens; "" for a heading that only ends
    the part before it; None for a line that is no heading."""
    text = line.strip().lstrip("#").strip().rstrip(":").strip()
    if not text or len(text) > 90:
        return None
    for name, pattern in _PART_NAMES:
        if pattern.match(text):
            return name
    return "" if _OTHER_HEADING.match(text) else None


def _parts(lines: list[_Line]) -> list[Part]:
    """Named sections from each heading to the next heading, one Part per page."""
    parts: list[Part] = []
    current: str | None = None
    start: tuple[int, int] | None = None
    prev_end: tuple[int, int] | None = None

    spans: dict[int, tuple[int, int]] = {}  # page -> (start of its first line, end of its last)
    for line in lines:
        first = spans.get(line.page, (line.start, line.end))[0]
        spans[line.page] = (first, line.end)
    pages = sorted(spans)

    def close(until: tuple[int, int]) -> None:
        if current and start:
            _emit(parts, current, start, until, pages, spans)

    for line in lines:
        name = _part_name(line.text) if line.text else None
        if name is not None:
            close(prev_end or (line.page, line.start))
            current = name or None
            start = (line.page, line.start)
        if line.text:
            prev_end = (line.page, line.end)
    if lines:
        close((lines[-1].page, lines[-1].end))
    return parts


def _emit(parts: list[Part], name: str, start: tuple[int, int], end: tuple[int, int], pages: list[int],
          spans: dict[int, tuple[int, int]]) -> None:
    """Cut one part into per-page Parts; `pages` sorted, `spans` each page's
    extent, computed once per document (a scan of every line for every part
    made a 2 MB file take 15 s)."""
    for page in pages[bisect_left(pages, start[0]):bisect_right(pages, end[0])]:
        s = start[1] if page == start[0] else spans[page][0]
        e = end[1] if page == end[0] else spans[page][1]
        if e > s:
            parts.append(Part(name, page, s, e))


def _item_starts(lines: list[_Line], group: list[_Segment], doc_type: str) -> list[tuple[int, str, str]]:
    """(line index, number, title) of each agenda item, by the first layout that
    finds any: "§ 135 ..." headings, Nykarleby "N §" footers, numbered ärenden."""
    starts = _paragraph_starts(lines)
    if not starts:
        starts = _footer_starts(lines, group)
    if not starts and doc_type in _AGENDA_TYPES:
        starts = _numbered_starts(lines)
    return starts


def _title_after(lines: list[_Line], i: int, first: str) -> str:
    """An item title: the heading's own text, else the next line; a line wrapped
    at the margin continues it ("... till Fastighets" + "AB Josefina")."""
    parts = [first] if first else []
    for line in lines[i + 1:i + 4]:
        text = line.text
        skip = not text or _part_name(text) is not None or find_case_numbers(text) == [text]
        if skip or (parts and not _continues(parts[-1], text)):
            if parts:
                break
            continue
        parts.append(text)
    return " ".join(parts).strip()


def _continues(prev: str, text: str) -> bool:
    if text[0].islower():
        return True
    return len(prev) > 45 and len(text) < 45 and not prev.endswith((".", ":", ")"))


def _heading_rest(rest: str) -> str:
    """What follows "§ 135" on its line, less case numbers and ids ("Projekt 93102495")."""
    for case in find_case_numbers(rest):
        rest = rest.replace(case, " ")
    rest = re.sub(r"\b(?:Dnr|KFKS|Diarienummer)\b\.?:?", " ", rest).strip()
    letters = sum(ch.isalpha() for ch in rest)
    return rest if len(rest.split()) >= 2 and letters >= 0.6 * len(rest) else ""


def _paragraph_starts(lines: list[_Line]) -> list[tuple[int, str, str]]:
    """Items headed "§ 135 KFKS 2019/475" (or "14§ Title"), tables of contents
    and references wrapped onto a new line ("..., \n§66") left out."""
    found: list[tuple[int, str, str, bool]] = []
    last_text = ""  # of the lines before this one, kept as we go (a look back per line was quadratic)
    for i, line in enumerate(lines):
        previous, last_text = last_text, line.text or last_text
        m = _PARA_ITEM.match(line.text) or _NUM_PARA_ITEM.match(line.text)
        if not m or _LEADER.search(line.text) or (m.re is _PARA_ITEM and m.group(2)):
            continue  # a contents line, or "§ 71 forts": the same § continued
        following = " ".join(x.text for x in lines[i + 1:i + 4])
        rest = m.group(3) if m.re is _PARA_ITEM else m.group(2)
        if _LEADER.search(following) or (previous.endswith(",") and not rest.strip()):
            continue
        found.append((i, m.group(1), _title_after(lines, i, _heading_rest(rest)), m.re is _PARA_ITEM))
    found = _drop_contents(found, lines)
    starts: list[tuple[int, str, str, bool]] = []
    for cand in found:
        if starts and int(cand[1]) <= int(starts[-1][1]):
            continue
        starts.append(cand)
    # "§ 135" and "135 §" do not mix within one document: keep the commoner layout.
    sign_first = sum(1 for s in starts if s[3])
    keep = sign_first >= len(starts) - sign_first
    return [(i, n, t) for i, n, t, first in starts if first == keep]


def _drop_contents(found: list[tuple[int, str, str, bool]], lines: list[_Line]) -> list[tuple[int, str, str, bool]]:
    """A heading with (almost) no text before the next one, whose number comes
    again later, is a table-of-contents entry."""
    kept = []
    last = {cand[1]: k for k, cand in enumerate(found)}  # where each number is found last
    for k, cand in enumerate(found):
        end = found[k + 1][0] if k + 1 < len(found) else len(lines)
        body = sum(1 for ln in lines[cand[0] + 1:end] if ln.text)
        if body <= 2 and last[cand[1]] > k:
            continue
        kept.append(cand)
    return kept


def _footer_starts(lines: list[_Line], group: list[_Segment]) -> list[tuple[int, str, str]]:
    """Nykarleby minutes print "N §" in the footer of every page of item N."""
    starts: list[tuple[int, str, str]] = []
    last = None
    for seg in group:
        number = next((m.group(1) for x in seg.foot if (m := _FOOTER_ITEM.match(x))), None)
        if number is None or number == last or seg.stamp:
            continue
        last = number
        idx = next((i for i, ln in enumerate(lines) if ln.page == seg.page and ln.start >= seg.start), None)
        if idx is None:
            continue
        body = [ln for ln in lines[idx:idx + 6] if ln.text and not find_case_numbers(ln.text)]
        title = re.sub(r"^\d+\s*§\s*", "", body[0].text) if body else ""
        starts.append((idx, number, title))
    return starts


_TIME_SLOT = re.compile(r"^\d{1,2}[.:]\d{2}\s*[–-]\s*\d{1,2}[.:]\d{2}$")


def table_item_cell(cell: str) -> tuple[str, list[str]]:
    """(title, presenters) of a Kungsbacka agenda cell: the title lines, then a
    time slot ("13.00–13.25"), then the people who present the item."""
    lines = [s.strip() for s in re.split(r"<br>", cell) if s.strip()]
    slot = next((i for i, s in enumerate(lines) if _TIME_SLOT.match(s)), None)
    if slot is None:
        return " ".join(lines), []
    return " ".join(lines[:slot]), lines[slot + 1:]


def _line_item_title(text: str) -> str:
    """A numbered line laid out in columns ("3. Kommunbudget 2026, plan 2024-00717
    Förslag till beslut ..."): the title ends where the case-number column starts."""
    cases = find_case_numbers(text)
    if cases and (pos := text.find(cases[0])) > 0:
        return text[:pos].rstrip(" ,;–-")
    return text


def _numbered_starts(lines: list[_Line]) -> list[tuple[int, str, str]]:
    """Numbered ärenden of a kallelse, 1, 2, 3 ... in order, so that numbered
    lists inside an ärende are not taken for new ones."""
    starts: list[tuple[int, str, str]] = []
    expected = 1
    for i, line in enumerate(lines):
        if m := _TABLE_ITEM.match(line.text):  # Kungsbacka: | 3. | Title | 2025-00008 | Förslag |
            number, title = m.group(1), table_item_cell(m.group(2))[0]
        elif (m := _NUMBERED_ITEM.match(line.text)) and m.group(2)[0].isupper():
            number, title = m.group(1), _title_after(lines, i, _line_item_title(m.group(2)))
        else:
            continue
        if int(number) == expected and not _LEADER.search(line.text):
            expected += 1
            starts.append((i, number, title))
    return starts


def _items(lines: list[_Line], group: list[_Segment], doc_type: str) -> list[AgendaItem]:
    starts = _item_starts(lines, group, doc_type)
    items: list[AgendaItem] = []
    for k, (i, number, title) in enumerate(starts):
        j = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        span = lines[i:j]
        filled = [ln for ln in span if ln.text] or span[:1]
        text = "\n".join(ln.text for ln in span)
        table = _TABLE_ITEM.match(lines[i].text)
        items.append(
            AgendaItem(
                number=number,
                title=title,
                case_numbers=find_case_numbers(text),
                page_start=lines[i].page,
                page_end=filled[-1].page,
                parts=_parts(span),
                char_start=lines[i].start,
                char_end=filled[-1].end,
                presenters=table_item_cell(table.group(2))[1] if table else [],
            )
        )
    return items


# ---------------------------------------------------------------- assembly


def _build(group: list[_Segment], first_doc: bool, file_municipality: str | None) -> LogicalDocument:
    doc_type = _doc_type(group, first_doc)
    zone = _zone(group)
    votes = _organ_votes(group, doc_type)
    organ = votes.most_common(1)[0][0] if votes else None
    document_date = _document_date(zone)
    meeting_date = _meeting_date(zone)
    if meeting_date is None and doc_type in _MEETING_TYPES:
        meeting_date = document_date
    lines = _lines(group)
    items = _items(lines, group, doc_type)
    last = _last_line(group, lines)
    return LogicalDocument(
        title=_title(group, doc_type, organ, meeting_date or document_date, items),
        doc_type=doc_type,
        organ=organ,
        municipality=find_municipality("\n".join(zone)) or file_municipality,
        meeting_date=meeting_date,
        case_numbers=_doc_case_numbers(group, doc_type, items, lines),
        presenters=list(dict.fromkeys(_presenters("\n".join(ln.text for ln in lines))
                                      + [name for it in items for name in it.presenters])),
        page_start=group[0].page,
        page_end=last.page,
        items=items,
        document_date=document_date,
        char_start=group[0].start,
        char_end=last.end,
        parts=[] if items else _parts(lines),
    )


def _doc_case_numbers(group: list[_Segment], doc_type: str, items: list[AgendaItem], lines: list[_Line]) -> list[str]:
    """The letterhead's case number first, then the items'; minutes have only
    their items' (a header line on a protocol page belongs to one §)."""
    header = [s.dnr for s in group[:2] if s.dnr] if doc_type not in _MEETING_TYPES else []
    cases = list(dict.fromkeys(header + [c for it in items for c in it.case_numbers]))
    return cases or find_case_numbers("\n".join(ln.text for ln in lines[:60]))


def _last_line(group: list[_Segment], lines: list[_Line]) -> _Line:
    """Where the document ends: its last line with text, or the end of trailing
    pages without text (scans), which still belong to it."""
    filled = [ln for ln in lines if ln.text]
    last = filled[-1] if filled else lines[-1]
    if group[-1].page > last.page:
        return _Line(group[-1].page, group[-1].start, group[-1].end, "")
    return last


def _inherit(docs: list[LogicalDocument]) -> None:
    """Documents packed after a kallelse or protokoll belong to its meeting:
    they take its date, organ and municipality where their own text is silent;
    a part of the main document resumed after a bilaga points back to it."""
    head = docs[0]
    for k, doc in enumerate(docs[1:], start=1):
        if head.doc_type in _MEETING_TYPES:
            doc.meeting_date = doc.meeting_date or head.meeting_date
            doc.organ = doc.organ or head.organ
        doc.municipality = doc.municipality or head.municipality
        if doc.doc_type not in _MEETING_TYPES:
            continue
        for j in range(k - 1, -1, -1):
            if docs[j].doc_type == doc.doc_type and doc.doc_type != "bilaga" and docs[j].organ == doc.organ:
                if j < k - 1 and all(d.doc_type == "bilaga" for d in docs[j + 1:k]):
                    doc.parent = docs[j].parent if docs[j].parent is not None else j
                break


def split_documents(pages: list[Page]) -> list[LogicalDocument]:
    """The logical documents in one file's cleaned pages, in page order.

    A new document starts where the content says so: page numbering restarting
    ("1 (5)") or the previous page being the last ("5 (5)"), a new document
    header (TJÄNSTESKRIVELSE, Bilaga, KALLELSE, a protocol header), a bilaga
    stamp, a new letterhead ("Datum ... Dnr ...") with another case number, an
    e-mail header. Pages keep their physical numbers."""
    if not pages:
        return []
    groups = _group(_segments(pages))
    municipality = find_municipality("\n".join(normalize(p.text) or p.clean for p in pages))
    docs = [_build(g, i == 0, municipality) for i, g in enumerate(groups)]
    _inherit(docs)
    return docs


@dataclass
class ItemIndex:
    """A document's items, searchable by position and by number in O(log n):
    a scan of every item for every passage made structure quadratic in the
    number of items (a 12,000-item file: 45 s of 66)."""

    items: list[AgendaItem]
    starts: list[tuple[int, int]]
    reach: list[tuple[int, int]]  # the furthest end among the items up to each one
    by_number: dict[str, AgendaItem]
    ordered: bool  # starts rise (always, in practice; otherwise `at` scans)

    @classmethod
    def of(cls, doc: LogicalDocument) -> "ItemIndex":
        starts = [(it.page_start, it.char_start) for it in doc.items]
        reach: list[tuple[int, int]] = []
        for it in doc.items:
            end = (it.page_end, it.char_end)
            reach.append(max(reach[-1], end) if reach else end)
        by_number: dict[str, AgendaItem] = {}
        for it in doc.items:
            by_number.setdefault(it.number, it)
        return cls(doc.items, starts, reach, by_number, starts == sorted(starts))

    def at(self, key: tuple[int, int]) -> AgendaItem | None:
        """The first item (in document order) whose span holds `key`."""
        if not self.ordered:
            return next((it for it, st in zip(self.items, self.starts) if st <= key <= (it.page_end, it.char_end)), None)
        last = bisect_right(self.starts, key)  # items[:last] start at or before key
        for i in range(bisect_left(self.reach, key, 0, last), last):  # reach rises: before this, none ends at key
            it = self.items[i]
            if key <= (it.page_end, it.char_end):
                return it
        return None


def passage_context(doc: LogicalDocument, page: int, char_offset: int,
                    index: ItemIndex | None = None) -> tuple[str | None, str | None, bool]:
    """(item number, part name, is_decision) for a position in the clean text of
    `page`. Text under "Beslut" counts as a decision only in minutes; the same
    words in a kallelse or tjänsteskrivelse are a proposal."""
    item = (index or ItemIndex.of(doc)).at((page, char_offset))
    parts = item.parts if item else doc.parts
    part = next((p for p in parts if p.page == page and p.char_start <= char_offset < p.char_end), None)
    name = part.name if part else None
    return (item.number if item else None, name, name == "Beslut" and doc.doc_type in DECISION_TYPES)


def document_spans(doc: LogicalDocument, pages: list[Page]) -> Iterator[tuple[int, int, int]]:
    """(page, char_start, char_end) of the document on each of its pages, so a
    caller can chunk one logical document at a time."""
    for p in pages:
        if doc.page_start <= p.number <= doc.page_end:
            start = doc.char_start if p.number == doc.page_start else 0
            end = doc.char_end if p.number == doc.page_end else len(p.clean)
            yield p.number, start, end
