"""Plain data passed between stages: each stage reads the one before it only
through these, never through another module's internals."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Page:
    """One physical page (1-based). `text` is the original for display;
    `clean` is what chunking, stemming and matching see."""

    number: int
    text: str
    clean: str = ""
    ocr: bool = False  # `text` was read by OCR: the page has no text layer of its own
    repaired: int = 0  # words repaired in `clean` (sok.ingest.textquality: a font that loses ligatures)
    personnummer: int = 0  # found on the page (sok.ingest.personal), masked unless the index shows them
    secret: bool = False  # the page says something on it is secret or redacted

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()


@dataclass
class ExtractedFile:
    path: str  # absolute path on disk
    relpath: str  # path relative to the indexed folder, for display
    sha256: str
    size: int
    kind: str  # "pdf", "md" or "txt"
    pages: list[Page]
    title: str = ""
    date: str | None = None  # ISO date, when the text states one
    documents: list = field(default_factory=list)  # sok.ingest.meeting.LogicalDocument, in page order
    warnings: list[str] = field(default_factory=list)  # read, but not wholly (OCR failed), in Swedish

    @property
    def empty_pages(self) -> list[int]:
        """Pages without a text layer, whether or not OCR has read them since."""
        return [p.number for p in self.pages if p.is_empty or p.ocr]


@dataclass
class Position:
    """A member's yrkande, reservation, protokollsanteckning or vote as a §
    records it (ingest.politics). `stance` is what a yrkande asks for
    (bifall, avslag, återremiss, bordläggning, ändring, tillägg) or how the
    member voted (ja, nej, avstår); `joined` the members who joined a
    yrkande (name, party)."""

    kind: str
    person: str
    person_key: str
    party: str
    stance: str | None = None
    joined: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""


@dataclass
class VoteSide:
    """One side of an omröstning: JA, NEJ or avstår, or, where the protokoll
    names the sides only by what they voted for, "för"."""

    vote: str  # "ja", "nej", "avstår" or "för"
    stood_for: str | None  # "att avgöra ärendet vid dagens sammanträde"
    members: list[tuple[str, str]]  # (name, party)
    stated: int | None  # the count the protokoll itself states for this side


@dataclass
class Vote:
    """An omröstning as a § records it: its sides, with the members read
    from the text and the tally the protokoll states (so the names read can
    be checked against it), and the sentence with the result."""

    sides: list[VoteSide]
    result: str

    def tally_holds(self) -> bool:
        return all(s.stated is None or s.stated == len(s.members) for s in self.sides)


@dataclass
class Passage:
    """A retrievable unit inside one document. Offsets index the cleaned text
    of `page_start` (char_start) and of `page_end` (char_end)."""

    ordinal: int
    text: str
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    heading_path: list[str] = field(default_factory=list)
    document: int = 0  # index of its logical document in the file
    item: str | None = None  # "§ 135" or the agenda item number
    item_title: str | None = None
    part: str | None = None  # Beslut, Ärendet, Yrkanden, ...
    is_decision: bool = False
    dates: list[str] = field(default_factory=list)  # dates the passage mentions, resolved to ISO
    case_numbers: list[str] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)  # yrkanden, reservationer, anteckningar it states


@dataclass
class ItemStatus:
    """Where the § a hit belongs to stands, as its protokoll says: the
    outcome (beslutat, avslaget, bordlagt, återremitterat, förslag till
    fullmäktige), whether it went to an omröstning, and who reserved."""

    outcome: str | None  # None where the § 's decision is not among its passages
    vote: bool = False
    reserved: list[str] = field(default_factory=list)  # "Håkan Skaneland (V)"

    def label(self) -> str:
        """One line, in Swedish: "bordlagt · omröstning · reservation: Håkan Skaneland (V)"."""
        parts = [self.outcome] if self.outcome else []
        parts += ["omröstning"] if self.vote else []
        parts += [f"reservation: {', '.join(self.reserved)}"] if self.reserved else []
        return " · ".join(parts)


@dataclass
class Hit:
    passage_id: int
    score: float
    text: str
    file: str
    path: str
    title: str
    page_start: int
    page_end: int
    date: str | None
    heading_path: list[str]
    snippet: str
    highlights: list[tuple[int, int]]
    evidence: float = 0.0  # relevance evidence; see relevance.py
    organ: str | None = None
    doc_type: str | None = None
    case_numbers: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)  # dates the passage mentions
    item: str | None = None  # the § or agenda item the passage belongs to
    is_decision: bool = False
    also_in: list[dict] = field(default_factory=list)  # near-duplicates collapsed into this hit: file, pages, title, date
    text_source: str | None = None  # "ocr" or "repaired" when the text is not the PDF's own, intact
    status: ItemStatus | None = None  # the § 's outcome, omröstning and reservations (query.politics.status)

    @property
    def source_note(self) -> str | None:
        """What a reader should know about where the text came from, in Swedish."""
        return {"ocr": "OCR-läst text", "repaired": "lagat textlager"}.get(self.text_source or "")

    @property
    def pages_label(self) -> str:
        return pages_label(self.page_start, self.page_end)


def pages_label(start: int, end: int) -> str:
    """How a citation names its pages: "s. 3" or "s. 3–5"."""
    return f"s. {start}" if start == end else f"s. {start}–{end}"


def locating_text(title: str, organ: str | None, item_title: str | None, headings: list[str], text: str) -> str:
    """A passage with what locates it (document title, organ, § title,
    headings): what BM25 indexes and what the relevance evidence reads."""
    return f"{title}\n{organ or ''} {item_title or ''}\n{' '.join(headings)}\n{text}"


NO_ANSWER = "Inget i materialet besvarar frågan."


@dataclass
class Source:
    number: int
    passage_id: int
    title: str
    organ: str | None
    date: str | None
    file: str
    path: str
    page_start: int
    page_end: int
    where: str | None = None  # the § and its part, or the heading the passage sits under
    quote: str = ""  # the passage's opening words

    @property
    def label(self) -> str:
        """Title, organ, date, §/part, pages, file and a short quote: two
        passages of one page are two sources, and the reader must see which."""
        parts = [self.title, self.organ, self.date, self.where, pages_label(self.page_start, self.page_end), self.file]
        out = ", ".join(p for p in parts if p)
        return f"{out}: ”{self.quote}”" if self.quote else out


def source_place(item: str | None, heading_path: list[str]) -> str | None:
    """ "§ 135 › Beslut", or the heading a passage sits under where it has no §."""
    last = heading_path[-1].strip() if heading_path else ""
    if len(last) > 60:
        last = last[:60].rsplit(" ", 1)[0] + "…"
    if item and last and not last.startswith(item):
        return f"{item} › {last}"
    return item or last or None


def opening_words(text: str, words: int = 10) -> str:
    """The passage's first words after any page header ("9 (93) 13 maj 2019 MACKA ...")."""
    from sok.language import page_header_end

    head = text[page_header_end(text):].split()
    return " ".join(head[:words]) + ("…" if len(head) > words else "")


@dataclass
class Sentence:
    text: str
    date: str | None  # the meeting or document date the line is grouped under
    citations: list[int]  # source numbers
    role: str | None = None  # "Beslut, kommunstyrelsen § 176", "Förslag i tjänsteskrivelse", "Yrkande", ...


@dataclass
class Answer:
    question: str
    sentences: list[Sentence] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    method: str = "extractive"  # or "llm"
    note: str | None = None  # why a generated answer was set aside, for instance

    @property
    def no_answer(self) -> bool:
        return not self.sentences

    def render(self) -> str:
        if self.no_answer:
            return NO_ANSWER + (f"\n({self.note})" if self.note else "")
        lines, current = [], object()
        for s in self.sentences:
            if s.date != current:
                lines.append(f"\n{s.date or 'Utan datum'}:")
                current = s.date
            lines.append(f"  - {s.role + ': ' if s.role else ''}{s.text} " + "".join(f"[{n}]" for n in s.citations))
        out = "\n".join(lines).lstrip("\n")
        out += "\n\nKällor:\n" + "\n".join(f"  [{src.number}] {src.label}" for src in self.sources)
        if self.note:
            out += f"\n\n({self.note})"
        return out


def source_of(number: int, hit: Hit) -> Source:
    """Source number `number` of an answer, made from the hit it cites."""
    return Source(number, hit.passage_id, hit.title, getattr(hit, "organ", None), hit.date, hit.file, hit.path,
                  hit.page_start, hit.page_end, source_place(hit.item, hit.heading_path), opening_words(hit.text))


@dataclass
class Filters:
    """Search filters, applied inside retrieval: a filter that matches
    nothing returns nothing, never the unfiltered list."""

    organ: list[str] = field(default_factory=list)  # any of these organs
    doc_type: list[str] = field(default_factory=list)  # any of these document types
    date_from: str | None = None  # ISO date, inclusive, on the meeting (else document) date
    date_to: str | None = None
    case_number: str | None = None  # normalised like sok.language.normalize_case_number
    decisions_only: bool = False  # only decision text (Beslut in protokoll/protokollsutdrag)
    person: str | None = None  # only §§ where this member proposed, voted, reserved or noted something
    party: str | None = None  # the same for a party (with `person`: that member for that party)

    @property
    def active(self) -> bool:
        return bool(self.organ or self.doc_type or self.date_from or self.date_to or self.case_number
                    or self.decisions_only or self.person or self.party)
