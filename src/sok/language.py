"""What sok knows of Swedish meeting records as language, on the ground
floor so that both sides use it: the indexing side reads documents with it,
the query side reads questions with it ("beslut", a date, a case number, an
organ's name). Nothing here knows about pages, passages or indexes.

- document types, and which of them record decisions;
- the words that head a section of an agenda item (Beslut, Yrkanden, ...);
- dates as records write them (2024-05-27, 27 maj 2024, 27.5.2024);
- case numbers (diarienummer) in every form the corpus uses;
- organ names, their abbreviations, and the municipality a text is from.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter

DOC_TYPES = (
    "kallelse", "protokoll", "protokollsutdrag", "protokollsbilaga", "tjänsteskrivelse", "bilaga",
    "återrapportering", "rapport", "informationsbrev", "föredragningslista", "handlingar",
    "översiktsplan", "prognos", "budgetskrivelse", "motion", "presentation", "other",
)
# Only minutes record decisions; a kallelse or a tjänsteskrivelse proposes them.
DECISION_TYPES = frozenset({"protokoll", "protokollsutdrag"})

SECTION_WORDS = {
    "beslut", "förslag till beslut", "ärendet", "ärendebeskrivning", "sammanfattning",
    "bakgrund", "handlingar i ärendet", "yrkanden", "yrkande", "beslutsgång", "propositionsordning",
    "reservation", "reservationer", "protokollsanteckning", "protokollsanteckningar",
    "ekonomiska konsekvenser", "bilagor", "beslutsunderlag", "beredning", "skäl för beslut",
    "expedieras till", "expediering", "konsekvenser", "förslagets konsekvenser", "inledning",
    "bedömning", "förvaltningens bedömning", "motivering", "beslutsförslag", "föredragande",
}

# Words that frame a question rather than name its topic: "Hur gick det med
# översiktsplanen?" asks about the plan, and a line that only shares "gick"
# ("skolan gick med underskott") does not answer it.
QUESTION_FRAME_WORDS = frozenset({
    "gick", "går", "gått", "blev", "blir", "gjordes", "görs", "hände", "händer", "står", "ligger",
    "sades", "sägs", "rapporterades", "rapporteras", "redovisades", "redovisas", "fattades", "fattas",
    "finns", "fanns", "skedde", "sker",
})

# ---------------------------------------------------------------- dates

MONTHS = {
    "januari": 1, "februari": 2, "mars": 3, "april": 4, "maj": 5, "juni": 6, "juli": 7,
    "augusti": 8, "september": 9, "oktober": 10, "november": 11, "december": 12,
}
_YEAR = r"(19\d\d|20\d\d)"
_ISO_DATE = re.compile(r"(?<![\d-])" + _YEAR + r"-(\d\d)-(\d\d)(?!\d)")
_WORD_DATE = re.compile(
    r"(?<!\d)(\d{1,2})\s+(" + "|".join(MONTHS) + r")(?:\s+" + _YEAR + r")?(?![\wåäö])", re.IGNORECASE
)
_FI_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(19\d\d|20\d\d)(?!\d)")


def count(n: int, one: str, many: str) -> str:
    """"1 handling", "3 handlingar": Swedish has no plural for one."""
    return f"{n} {one if n == 1 else many}"


def iso_date(y: int, m: int, d: int) -> str | None:
    """The ISO date, or None for an impossible one (31 april)."""
    try:
        return _dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def _dates_with_pos(text: str, year: int | None) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for m in _ISO_DATE.finditer(text):
        if iso := iso_date(int(m.group(1)), int(m.group(2)), int(m.group(3))):
            found.append((m.start(), iso))
    for m in _WORD_DATE.finditer(text):
        y = int(m.group(3)) if m.group(3) else year
        if y and (iso := iso_date(y, MONTHS[m.group(2).lower()], int(m.group(1)))):
            found.append((m.start(), iso))
    for m in _FI_DATE.finditer(text):
        if iso := iso_date(int(m.group(3)), int(m.group(2)), int(m.group(1))):
            found.append((m.start(), iso))
    return sorted(found)


def resolve_dates(text: str, year: int | None = None) -> list[str]:
    """Every date the text states, as ISO, in order of appearance. Dates written
    without a year ("vid beredningens sammanträde den 30 maj") take `year`, the
    document's year; without it they are skipped rather than guessed."""
    return list(dict.fromkeys(iso for _, iso in _dates_with_pos(text, year)))


def first_date(text: str) -> str | None:
    """The first date the text states (with its year)."""
    found = _dates_with_pos(text, None)
    return found[0][1] if found else None


# ---------------------------------------------------------------- case numbers

_CASE_PATTERNS = (
    re.compile(r"(?<![\w/])\d{2}RS\d{3,6}(?!\w)"),  # Region Örebro län: 20RS10323
    re.compile(r"(?<![\w/])[A-ZÅÄÖ]{2,6}/\d{1,6}/\d{2}(?:\.\d{2}){1,5}/\d{4}(?!\d)"),  # NKBY/482/01.01.01.07/2022
    re.compile(r"(?<![\w-])[A-ZÅÄÖ]{2,5}-\d{4}-\d{3,6}(?!\d)"),  # KS-2025-00970
    re.compile(r"(?<![\w])[A-ZÅÄÖ]{2,6} ?\d{4}/\d{1,5}(?:-\d{1,4})?(?![\d/])"),  # KFKS 2019/475
    re.compile(r"(?:\bDnr\.?|\bDiarienummer)\s*:?\s*(\d{4}[/-]\d{1,5})(?![\d/-])", re.IGNORECASE),  # Dnr 2023/314
    re.compile(r"(?<![\w-])(20\d\d-\d{5})(?![\d-])"),  # Kungsbacka, bare: 2025-00007
)
_NOT_CASE_PREFIX = {"AB", "SOU", "HB", "KB", "EU", "VA", "ISBN", "ISSN", "SFS", "DS"}
_CASE_LABEL = re.compile(r"^(?:dnr\.?|diarienummer|beteckning)\s*:?\s*", re.IGNORECASE)
_YEAR_RANGE = re.compile(r"(\d{4})/(\d{4})$")


def normalize_case_number(s: str) -> str:
    """One spelling per case number: labels dropped, upper case, one space after
    a letter prefix ("kfks2019/475" -> "KFKS 2019/475", "Dnr: 20RS10323" -> "20RS10323")."""
    s = _CASE_LABEL.sub("", s.strip())
    s = re.sub(r"\s+", " ", s).upper()
    m = re.match(r"^([A-ZÅÄÖ]{2,6}) ?(\d{4}/.*)$", s)
    return f"{m.group(1)} {m.group(2)}" if m else s


def find_case_numbers(text: str) -> list[str]:
    """Case numbers (diarienummer) in any of the corpus' forms, normalised, in order."""
    spans: list[tuple[int, int, str]] = []
    for pattern in _CASE_PATTERNS:
        for m in pattern.finditer(text):
            start, end = m.span(1) if m.groups() else m.span()
            if any(s < end and start < e for s, e, _ in spans):
                continue
            value = normalize_case_number(text[start:end])
            if value.split(" ")[0] in _NOT_CASE_PREFIX:
                continue  # "Österlen VA AB 2023/314": a company, "SOU 2019/7": a report
            yr = _YEAR_RANGE.search(value)
            if yr and int(yr.group(2)) - int(yr.group(1)) in (1, 2, 3, 4, 5, 10):
                continue  # "2019/2020" is a period, not a case
            spans.append((start, end, value))
    return list(dict.fromkeys(v for _, _, v in sorted(spans)))



_BARE_CASE = re.compile(r"^20\d\d-\d{5}$")


def complete_case_numbers(numbers: list[str], known: set[str]) -> list[str]:
    """`numbers` with a bare Kungsbacka number ("2024-00056", as an agenda
    table writes it) given its series prefix where the same file names it in
    full ("VN-2024-00056") and no other series shares the digits: one case,
    not two, in the case list and its filter."""
    out = []
    for n in numbers:
        full = [k for k in known if _BARE_CASE.match(n) and k.endswith("-" + n) and k != n]
        out.append(full[0] if len(full) == 1 else n)
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------- tables of contents

# A nämnd's or styrelse's decision that proposes to the council ("Kommunstyrelsen föreslår
# kommunfullmäktige att ..."; "förslår" as one protokoll misspells it): still its decision,
# but the council decides. Read by the answers' line roles and by a § 's status.
TO_COUNCIL = re.compile(r"\bför(?:e)?slår (?:att )?(?:kommun|region|stads)?fullmäktige\b", re.I)
TOC_LEADER = re.compile(r"\.{4,}|…{2,}|(?:\. ){4,}")  # "Justering ........ 3"


def toc_share(text: str) -> float:
    """The share of a passage's lines that are table-of-contents lines: a
    föredragningslista's index names every item and so shares words with
    many questions while answering none of them."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sum(1 for ln in lines if TOC_LEADER.search(ln)) / len(lines) if lines else 0.0

# ---------------------------------------------------------------- organs and places

# A page's running header as it opens a passage: "8 (93)", "13 maj 2019", "NACKA",
# "l(OMMUN SAMMANTRÄDESPROT0KOLL" (OCR of KOMMUN SAMMANTRÄDESPROTOKOLL).
_HEADER_LINE = re.compile(r"^\s*(?:\d+\s*\(\d+\)|\d{1,2} [a-zåäö]+ (?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d)\s*$")


def page_header_end(text: str, max_lines: int = 6) -> int:
    """Where the text starts after a page header at its top (0 when there is
    none): lines of a page number, a date or mostly capitals. A snippet
    shown from there starts with the matter, not with "MACKA l(OMMUN ..."."""
    end = 0
    for n, line in enumerate(text.splitlines(keepends=True)):
        letters = [c for c in line if c.isalpha()]
        capitals = sum(c.isupper() for c in letters) / len(letters) if letters else 1.0
        if n >= max_lines or not (_HEADER_LINE.match(line) or (capitals >= 0.8 and len(line.strip()) > 1)):
            break
        end += len(line)
    return end if end < len(text.rstrip()) else 0


ORGAN_ABBREVIATIONS = {
    "KS": "kommunstyrelsen", "KSVU": "kommunstyrelsens verksamhetsutskott",
    "KSAU": "kommunstyrelsens arbetsutskott", "KF": "kommunfullmäktige",
    "HSN": "hälso- och sjukvårdsnämnden", "UBN": "utbildningsnämnden", "SST": "stadsstyrelsen",
}
_ORG_HEAD = r"(?:nämnd(?:en)?|styrelse(?:n)?|fullmäktige|sektion(?:en)?|revision(?:en)?|utskott(?:et)?|beredning(?:en)?|rådet)"
_ORGAN = re.compile(
    r"(?:[a-zåäöé]+-\s+och\s+)?[a-zåäöé]*" + _ORG_HEAD + r"(?:s\s+[a-zåäö]*utskott(?:et)?)?"
    r"|(?:beredning(?:en)?|nämnden|rådet|utskottet|kommittén|styrelsen)\s+för(?:\s+(?!(?:är|har|ska|som|kan|var|blir)\b)[\wåäöé&,\-]+){1,6}",
    re.IGNORECASE,
)
_ORGAN_SUFFIX = re.compile(
    r"(?:\s+(?:kallas till sammanträde|sammanträdesprotokoll|[A-ZÅÄÖ]\w+ kommun|(?:19|20)\d\d|\d{1,3}))+$",
    re.IGNORECASE,
)
_DEFINITE = (("nämnd", "en"), ("styrelse", "n"), ("sektion", "en"), ("revision", "en"), ("beredning", "en"))


def normalize_organ(name: str) -> str:
    """Lower-case organ name as written, in definite form for one-word names
    ("Valnämnd" -> "valnämnden"), abbreviations expanded ("KSVU")."""
    name = re.sub(r"\s+", " ", name).strip(" .,:;")
    if name.upper() in ORGAN_ABBREVIATIONS:
        return ORGAN_ABBREVIATIONS[name.upper()]
    name = _ORGAN_SUFFIX.sub("", name).lower()
    if " " not in name:
        for stem, ending in _DEFINITE:
            if name.endswith(stem):
                return name + ending
    return name


def organ_in_line(line: str) -> str | None:
    """The organ when the whole line names one ("Kommunstyrelsen", "Beredning för nära vård 2023")."""
    core = _ORGAN_SUFFIX.sub("", line.strip(" #*:.")).strip()
    if re.search(r"(?:\s(?:och|samt|för|i)|[,-])$", core):
        return None  # "Beredning för somatisk specialistvård och": wrapped, not whole
    if 3 <= len(core) <= 90 and _ORGAN.fullmatch(core):
        return normalize_organ(core)
    return None


_MUNICIPALITY = (
    (re.compile(r"\bRegion ([A-ZÅÄÖ][a-zåäö]+) läns?\b"), "Region {} län", 3),
    (re.compile(r"\b([A-ZÅÄÖ][a-zåäö]+) kommun\b"), "{} kommun", 2),
    (re.compile(r"\b([A-ZÅÄÖ]{3,}) KOMMUN\b"), "{} kommun", 2),
    (re.compile(r"\b([A-ZÅÄÖ][a-zåäö]+) stads?\b"), "{} stad", 1),
)
_TOWN_HALL = re.compile(r"\b([A-ZÅÄÖ][a-zåäö]+) stadshus\b")  # "Plats och tid Nacka stadshus"
_NOT_PLACE = {
    "Varje", "Hela", "Denna", "Samma", "Vilken", "Egen", "Annan", "Vår", "Din", "Er", "Ingen", "Den", "Som",
    "Och", "En", "Per", "Region", "Kommun", "Berörd", "Aktuell", "Respektive", "Vilka", "Alla", "Inom",
}


def find_municipality(text: str) -> str | None:
    """The municipality or region a text is from: the most named one, where a
    "kommun"/"Region ... län" counts more than a "stad" (Nacka also says "Nacka stad")."""
    votes: Counter[str] = Counter()
    for pattern, form, weight in _MUNICIPALITY:
        for m in pattern.finditer(text):
            name = m.group(1).capitalize() if m.group(1).isupper() else m.group(1)
            if name not in _NOT_PLACE:
                votes[form.format(name)] += weight
    if not votes:  # minutes may name only their meeting place
        votes.update(f"{m.group(1)} kommun" for m in _TOWN_HALL.finditer(text) if m.group(1) not in _NOT_PLACE)
    return votes.most_common(1)[0][0] if votes else None
