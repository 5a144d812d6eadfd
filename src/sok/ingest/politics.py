"""Who proposed, who voted how, who reserved, who noted what: the
positions a protokoll records per §, read from its own wording ("Mats
Gerdau (M) yrkade bifall till verksamhetsutskottets förslag", "Med 8
JA-röster (Johan Ohlson (M), ...) mot 3 NEJ-röster (...) beslutar nämnden
...", "Khashayar Farmanbar (S) och Sidney Holm (MP) reserverade sig mot
beslutet", "Hans Peters (C) lät anteckna följande ..."). A structure stage: it sees a passage's text and gives plain
records; the store keeps them with the passage, so each one cites its §,
pages and meeting.

Names are kept as written and given a key (first and last name, case and
hyphens aside) under which "Esa Pekka Örmä" and "Esa Örmä" are one person;
parties are one abbreviation however they are written ("(S)",
"Socialdemokraterna")."""

from __future__ import annotations

import re

from sok.language import SECTION_WORDS, TO_COUNCIL
from sok.records import Position, Vote, VoteSide

PARTIES = {
    "socialdemokraterna": "S", "moderaterna": "M", "liberalerna": "L", "folkpartiet": "L", "centerpartiet": "C",
    "kristdemokraterna": "KD", "vänsterpartiet": "V", "miljöpartiet": "MP", "sverigedemokraterna": "SD",
    "nackalistan": "NL", "svenska folkpartiet": "SFP",
}

# a name word may have lost its hyphen at a line break ("CarlGöran" for Carl-Göran)
_NAME = r"[A-ZÅÄÖÉ][a-zåäöéü]+(?:[A-ZÅÄÖ][a-zåäöéü]+)?(?:[ -](?:[A-ZÅÄÖÉ][a-zåäöéü]+|von|af|de)){1,3}"
_PARTY = r"[A-ZÅÄÖ][A-ZÅÄÖa-zåäö]{0,3}"
# "Namn (P)"; a parenthesis left open before the verb ("Sidney Holm (MP lät anteckna") as the PDF has it
_ACTOR = re.compile(rf"({_NAME})\s*\(\s*({_PARTY})\s*(?:\)|(?=\s+[a-zåäö])|(?=\s*$))")
_BARE = re.compile(rf"({_NAME}(?:\s*(?:,|och|samt)\s*{_NAME})*)\s*$")  # "Karin Teljstedt och Anders Tiger"
_VERBS = (
    ("yrkande", re.compile(r"\b(?:yrkade|yrkar)\b")),
    ("reservation", re.compile(r"\breserver(?:ade|ar) sig\b|\b(?:anmälde|lämnade) (?:en |följande )?reservation\b")),
    ("protokollsanteckning", re.compile(r"\blät (?:gemensamt )?anteckna\b|\bantecknar\b"
                                        r"|\b(?:anmälde|lämnade|lägger|lade) (?:en |följande )?protokollsanteckning\b")),
)
# the party a member speaks for, named after the verb: "reserverade sig för Vänsterpartiet",
# "lät anteckna följande till protokollet för Miljöpartiets kommunstyrelsegrupp"
_FOR_PARTY = re.compile(r"^[^”\"]{0,60}?\bför ([A-ZÅÄÖ][a-zåäö]+)")
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
    "ärende", "ordförande", "ordföranden", "vice", "ledamot", "ledamöter", "ersättare", "kommunalråd", "oppositionsråd",
    "gruppledare", "därefter", "sedan", "slutligen", "även", "också", "hand",
}


def _name(written: str) -> str | None:
    """The member's name out of the capitalised words before "(PARTI)":
    those after the last heading or title word, at most three."""
    words = re.sub(r"(?<=[a-zåäöéü])(?=[A-ZÅÄÖ])", "-", written).split()  # "CarlGöran" -> "Carl-Göran"
    cut = max((i for i, w in enumerate(words) if w.casefold() in _NOT_NAME), default=-1)
    words = words[cut + 1:][-3:]
    return " ".join(words) if len(words) >= 2 else None


def _after_heading(written: str) -> bool:
    """The capitalised words before a name hold a heading or title word
    ("Yrkanden Hans Peters", "Protokollsanteckningar Sidney Holm")."""
    return any(w.casefold() in _NOT_NAME for w in written.split())


def party_of(written: str) -> str:
    """One abbreviation per party, however it is written."""
    w = written.strip().strip("()").strip()
    return PARTIES.get(w.casefold(), w.upper() if len(w) <= 4 else w)


def _party_named(word: str) -> str | None:
    """A party's abbreviation from its name, also in the genitive ("Miljöpartiets")."""
    w = word.casefold()
    return PARTIES.get(w) or (PARTIES.get(w[:-1]) if w.endswith("s") else None)


def party_map(texts: list[str]) -> dict[str, str]:
    """Each member's party as a file writes it somewhere ("Sidney Holm (MP)"
    in the attendance list or a yrkande), for the sentences that name a
    member without it ("Sidney Holm lät anteckna följande")."""
    seen: dict[str, dict[str, int]] = {}
    for text in texts:
        for written, party in _ACTOR.findall(re.sub(r"\s+", " ", text)):
            if name := _name(written):
                counts = seen.setdefault(person_key(name), {})
                counts[party_of(party)] = counts.get(party_of(party), 0) + 1
    return {key: max(counts, key=lambda p: counts[p]) for key, counts in seen.items()}


def person_key(name: str) -> str:
    """First and last name, case and hyphens aside: "Esa Pekka Örmä" and
    "Esa Örmä" are one member, "Grudevall-Steen" and "Grudevall Steen" too."""
    parts = name.replace("-", " ").casefold().split()
    return f"{parts[0]} {parts[-1]}" if len(parts) >= 2 else name.casefold()


# a yrkande for the proposal on the table: "på förvaltningens förslag", "Enligt förvaltningens beslutsförslag"
_ON_PROPOSAL = re.compile(r"\b(?:på|till|enligt|i enlighet med) (?:förvaltningens|arbetsutskottets|utskottets|liggande|"
                          r"ordförandens) (?:beslutsförslag|förslag)", re.I)
_AMENDED = re.compile(r"\bmed (?:följande |den |de )?(ändring|tillägg)", re.I)


def _stance(rest: str) -> str | None:
    """What a yrkande asks for: the earliest of the outcome words in it; a
    bifall "med följande ändring(ar)" or "tillägg" is that amendment."""
    found = [(m.start(), name) for name, pattern in _STANCES if (m := pattern.search(rest))]
    if (amended := _AMENDED.search(rest)) and found and min(found)[1] == "bifall":
        return amended.group(1).casefold()
    if not found and _ON_PROPOSAL.search(rest):  # "yrkar på förvaltningens förslag"
        return "bifall"
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
        # a heading between two members ("Johan Krogh (C) Yrkanden Hans Peters (C) yrkade") ends the run
        if head[before.end():run[0].start()].strip(" ,") not in ("", "och", "samt") or _after_heading(run[0].group(1)):
            break
        run.insert(0, before)
    return run


def _bare_subjects(head: str, rest: str, parties: dict[str, str]) -> list[tuple[str, str]]:
    """Members named without a party right before the verb ("Sidney Holm
    lät anteckna", "Karin Teljstedt och Anders Tiger lät anteckna"), with
    the party the sentence names after the verb ("... för Miljöpartiet"),
    else the party the file gives them elsewhere; none without a party."""
    m = _BARE.search(head)
    if not m:
        return []
    before = re.split(r"[.!?”\":;]", head[:m.start()])[-1]
    # names only at a sentence's start (a page number aside: "karaktär.” 105 (131) Gunilla ..."), or
    # after a heading word that _name cuts off ("Protokollsanteckningar Sidney Holm lät anteckna")
    if any(c.isalpha() for c in before) and not _after_heading(m.group(1)):
        return []
    named = _FOR_PARTY.match(rest)
    spoken_for = _party_named(named.group(1)) if named else None
    out = []
    for written in re.split(r"\s*(?:,|\boch\b|\bsamt\b)\s*", m.group(1)):
        name = _name(written)
        party = spoken_for or (parties.get(person_key(name)) if name else None)
        if name and party:
            out.append((name, party))
    return out


# An omröstning's result as the protokoll states it: "Med 8 JA-röster (names) mot
# 3 NEJ-röster (names) [och 1 avstår (names)] beslutar nämnden att ...", names
# optional; older minutes write "Med sju röster mot sex hade kommunstyrelsen ...".
_COUNT = r"(\d+|en|ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio|elva|tolv|tretton|fjorton|femton|sexton|sjutton|arton|nitton)"
_NUMBERS = {w: i for i, w in enumerate(
    "noll ett två tre fyra fem sex sju åtta nio tio elva tolv tretton fjorton femton sexton sjutton arton nitton".split())}
_TALLY = re.compile(rf"\bMed {_COUNT} (ja-)?röster\s*", re.I)
_TALLY_NO = re.compile(rf"\s*(?:mot|och|,)\s*{_COUNT}(?: (?:nej-)?röster)?\s*", re.I)
_TALLY_ABSTAIN = re.compile(
    rf"\s*(?:,|och)\s*{_COUNT} (?:avstår|avstod|avstående|(?:ledamöter|ledamot) avstod(?: från att rösta)?)\s*", re.I)
_VOTED = re.compile(r"röstade (ja|nej)\s*:?\s*(.*?)(?=Följande|\bröstade\b|\bavstod\b|\bMed \S+ (?:ja-)?röster|$)", re.I)
_ABSTAINED = re.compile(r"avstod(?: från att rösta)?\s*:\s*(.*?)(?=Följande|\bröstade\b|\bMed \S+ (?:ja-)?röster|$)", re.I)
_PROPOSITIONS = re.compile(
    r"\bja(?:-röst)?\s+för\s+(.*?)\s*\bnej(?:-röst)?\s+för\s+(.*?)(?=\s*(?:Följande|Omröstningsresultat|(?-i:\bFör\b)|\bMed \d)|$)",
    re.I)
# "För förslaget från Välfärd skola röstade A (L), B (M) och C (M)", or "Följande
# röstade för att bifalla X. A (M), B (C) ...": a list named by what it voted for
_VOTED_FOR = re.compile(r"\bFör ([^.]{1,200}?) röstade (.*?)(?=\bFör\b|\bMed \S+ (?:ja-)?röster|$)"
                        r"|\bFöljande (?:ledamöter )?röstade för (.*?)\.\s(.*?)(?=\bFöljande\b|\bMed \S+ (?:ja-)?röster|$)")

_VOTE_ASKED = re.compile(r"\b(?:votering|omröstning)\w* (?:begär|verkställ)", re.I)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS.get(word.casefold(), 1 if word.casefold() == "en" else 0)


def _parenthesised(text: str, at: int) -> tuple[str, int]:
    """The text inside the parentheses opening at `at` (which may nest:
    "(Johan Ohlson (M), Roland Thord (M))"), and where they close; ("", at)
    when no parenthesis opens there."""
    if at >= len(text) or text[at] != "(":
        return "", at
    depth = 0
    for i in range(at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[at + 1:i], i + 1
    return "", at


def _members(listed: str) -> list[tuple[str, str]]:
    return [(name, party_of(party)) for written, party in _ACTOR.findall(listed) if (name := _name(written))]


def votes(text: str) -> list[Vote]:
    """Every omröstning whose result `text` states, with each member's vote
    read from the names in the tally's parentheses or from the lists before
    it ("Följande ledamöter röstade ja: ...", "För X röstade ..."), and what
    each side stood for (the beslutsgång's "JA-röst för ... NEJ-röst för ...")."""
    flat = re.sub(r"\s+", " ", text.replace("\u00ad", ""))
    out: list[Vote] = []
    start = 0
    for m in _TALLY.finditer(flat):
        counts = [_count(m.group(1))]
        named = [_parenthesised(flat, m.end())]
        no = _TALLY_NO.match(flat, named[0][1])
        if not no:
            continue
        counts.append(_count(no.group(1)))
        named.append(_parenthesised(flat, no.end()))
        if abstain := _TALLY_ABSTAIN.match(flat, named[-1][1]):
            counts.append(_count(abstain.group(1)))
            named.append(_parenthesised(flat, abstain.end()))
        at = named[-1][1]
        end = flat.find(". ", at)
        result = re.sub(r"\s*\((?:[^()]|\([^()]*\))*\)", "", flat[m.start():end + 1 if end >= 0 else len(flat)])
        before = flat[start:m.start()]
        # the vote's own lines: from where the omröstning was asked for (a whole protokoll may come as one text)
        if asked := list(_VOTE_ASKED.finditer(before)):
            before = before[asked[-1].start():]
        props = _PROPOSITIONS.findall(before)
        yes_for, no_for = (p.strip(" .:") for p in props[-1]) if props else (None, None)
        labels = ["ja", "nej", "avstår"][:len(counts)]
        if any(listed for listed, _ in named):
            members = [_members(listed) for listed, _ in named]
        else:  # the names are listed before the result
            voted = _VOTED.findall(before)
            members = [[x for v, listed in voted if v.casefold() == label for x in _members(listed)] for label in labels[:2]]
            if len(labels) > 2:
                members.append([x for listed in _ABSTAINED.findall(before) for x in _members(listed)])
            if not any(members):
                sides = [(a or c, b or d) for a, b, c, d in _VOTED_FOR.findall(before)]
                ours = {(yes_for or "").casefold(): 0, (no_for or "").casefold(): 1}
                if sides and all(s.strip(" .").casefold() in ours for s, _ in sides[:2]) and yes_for and no_for:
                    members = [[], []]
                    for stood_for, listed in sides:
                        members[ours[stood_for.strip(" .").casefold()]] += _members(listed)
                elif sides:  # no JA/NEJ: the sides in the order listed, the counts in the order stated
                    labels = ["för"] * len(sides)
                    members = [_members(listed) for _, listed in sides]
                    yes_for, no_for = sides[0][0].strip(" ."), sides[1][0].strip(" .") if len(sides) > 1 else None
        stood = [yes_for, no_for, None]
        out.append(Vote([VoteSide(label, stood[i] if label != "för" else (yes_for if i == 0 else no_for if i == 1 else None),
                                  members[i] if i < len(members) else [], counts[i] if i < len(counts) else None)
                         for i, label in enumerate(labels)], result.strip()))
        start = m.end()
    return out


# "Motion den 13 november 2017 av Rolf Wasteson m. fl. (V)", "Motion från Stefan Jägnert (SD)":
# who wrote the motion a § handles (the first-named with "m.fl.", every one named otherwise)
_MOTION = re.compile(
    rf"\b[Mm]otion(?:en)?(?: den \d{{1,2}} [a-zåäö]+ \d{{3,4}}| ”[^”]{{1,120}}”)? (?:av|från) "
    rf"({_NAME}(?:\s*(?:,|och)\s*{_NAME})*),?\s*(?:m\.\s?fl\.?|mfl\.?|med flera)?\s*\(\s*({_PARTY})\s*\)")


def _motions(flat: str) -> list[Position]:
    out: list[Position] = []
    for m in _MOTION.finditer(flat.replace("<br>", " ")):
        for written in re.split(r"\s*(?:,|\boch\b)\s*", m.group(1)):
            if name := _name(written):
                out.append(Position(kind="motion", person=name, person_key=person_key(name), party=party_of(m.group(2)),
                                    text=re.sub(r"\s+", " ", m.group(0))))
    return out


# "Förslag till beslut på sammanträdet / Roland Thord (M): Inte godkänna ... / Inga-Lill
# Bjartén (S) i första hand bordlägga ärendet. I andra hand ...": each member's yrkande
# on its own line, as Simrishamn writes them.
_ON_THE_DAY = re.compile(r"Förslag till beslut på sammanträdet\s+(.*?)(?=\s(?:Beslutsgång|Omröstning|Propositionsordning"
                         r"|Ordförande(?:n)? ställer|[A-ZÅÄÖ]{4,}[A-ZÅÄÖ ]*BESLUT)\b|$)")
_SECOND_HAND = re.compile(r"\.\s*I andra hand\s+", re.I)


def _proposals_on_the_day(flat: str) -> list[Position]:
    out: list[Position] = []
    for section in _ON_THE_DAY.finditer(flat):
        # a member's line: "Namn (P): ...", or "Namn (P) i första hand ..." starting a sentence
        lines = section.group(1)
        actors = [a for a in _ACTOR.finditer(lines) if re.match(r"\s*:", lines[a.end():])
                  or re.match(r"\s*i första hand\b", lines[a.end():], re.I)
                  and (not lines[:a.start()].strip() or lines[:a.start()].rstrip().endswith("."))]
        for a, following in zip(actors, actors[1:] + [None]):
            said = lines[a.start():following.start() if following else len(lines)].strip()
            name = _name(a.group(1))
            proposal = said[len(a.group(0)):].lstrip(" :")
            if not name or not proposal:
                continue
            parts = _SECOND_HAND.split(re.sub(r"^i första hand\s+", "", proposal, flags=re.I), maxsplit=1)
            for part in parts:
                stance = _stance(part[:80]) or "eget förslag"
                out.append(Position(kind="yrkande", person=name, person_key=person_key(name),
                                    party=party_of(a.group(2)), stance=stance, text=said))
    return out


def positions(text: str, parties: dict[str, str] | None = None) -> list[Position]:
    """Every yrkande, reservation and protokollsanteckning stated in `text`,
    in order; one per member named before the verb ("A (S) och B (MP)
    reserverade sig" is two), with the members who joined a yrkande ("med
    instämmande av ...") listed on it; then the proposals listed as made on
    the day, the authors of the motions named, and each member's vote in
    every omröstning (`votes`)."""
    flat = re.sub(r"\s+", " ", text.replace("\u00ad", ""))
    out: list[Position] = []
    sentences = _SENTENCE.split(flat)
    for i, sentence in enumerate(sentences):
        for kind, verb in _VERBS:
            m = verb.search(sentence)
            if not m:
                continue
            head, rest = sentence[:m.start()], sentence[m.end():]
            subjects = _subjects(head)
            actors = [(a.group(1), a.group(2)) for a in subjects]
            start_at = subjects[0].start() if subjects else 0
            if not subjects and kind == "yrkande" and (after := _ACTOR.match(rest.lstrip())):
                # "I andra hand yrkade Sidney Holm (MP), med instämmande av ..., att ..."
                actors = [(after.group(1), after.group(2))]
                rest = rest.lstrip()[after.end():]
            elif not subjects:
                actors = _bare_subjects(head, rest, parties or {})
            if not actors:
                continue
            joined: list[tuple[str, str]] = []
            if kind == "yrkande" and (j := _JOINED.search(rest)):
                joined = [(n, party_of(p)) for w, p in _ACTOR.findall(j.group(1)) if (n := _name(w))]
                rest = rest[j.end():]
            # "yrkade, med instämmande av ..., följande. Kommunstyrelsen återremitterar ...": the proposal follows
            if kind == "yrkande" and sentence.rstrip(" .:").endswith("följande") and i + 1 < len(sentences):
                rest += " " + sentences[i + 1][:300]
            # a yrkande with none of the outcome words proposes something of its own ("yrkade att ..."); one
            # "i första hand ..., och i andra hand ..." is two, voted on one after the other
            second = re.search(r"\bi andra hand\b", rest, re.I) if kind == "yrkande" else None
            if second and not re.search(r"\bi första hand\b", rest[:second.start()], re.I):
                second = None
            parts = [rest[:second.start()], rest[second.end():]] if second else [rest]
            stances = [(_stance(part) or "eget förslag") if kind == "yrkande" else None for part in parts]
            names = [(_name(written), party) for written, party in actors]
            said = sentence[start_at:].strip()
            if names and names[0][0] and (at := said.find(names[0][0])) >= 0:  # not the heading before the name
                said = said[at:]
            for name, party in names:
                for stance in stances:
                    if name:
                        out.append(Position(kind=kind, person=name, person_key=person_key(name),
                                            party=party_of(party), stance=stance, joined=joined, text=said))
            break
    out += _proposals_on_the_day(flat)
    out += _motions(flat)
    for vote in votes(flat):
        for side in vote.sides:
            said = "" if not side.stood_for else f"för {side.stood_for}. " if side.vote == "för" \
                else f"{side.vote.capitalize()}-röst för {side.stood_for}. "
            for name, party in side.members:
                out.append(Position(kind="röst", person=name, person_key=person_key(name), party=party,
                                    stance=side.vote, text=said + vote.result))
    return out


# The decision's own words, not the § 's background ("Kommunfullmäktige beslutade den
# 1 februari 2021 att återremittera ärendet" in Ärende is history): cut at the next part.
_DECISION_END = re.compile(r"\s(?:Ärende|Ärendet i korthet|Handlingar i ärendet|Yrkanden|Beslutsgång|Bakgrund|Reservationer)"
                           r"\s(?=[A-ZÅÄÖ0-9])|-\s-\s-|\s§\s?\d+\s+(?:Dnr|KFKS)\b")
_OUTCOMES = (
    ("återremitterat", re.compile(r"\båterremitter(?:a|as|ar|ades)\b", re.I)),
    ("bordlagt", re.compile(r"\bbordl(?:ägga|äggs|ägger|ades|agt|agd)\b", re.I)),
    ("avslaget", re.compile(r"\b(?:motion|medborgarförslag|e-förslag|ansökan|begäran|framställan)\w*\s+avslås\b"
                            r"|\bavslå(?:r|s)?\s+(?:\w+\s+){0,3}?(?:motion|medborgarförslag|e-förslag|ansökan|begäran|framställan|förslag)",
                            re.I)),
    ("utgått", re.compile(r"\bÄrendet utgår\b", re.I)),
)


def outcome_of(decision: str) -> str:
    """What a § 's decision text says happened: återremitterat, bordlagt,
    utgått, avslaget (a motion, medborgarförslag or ansökan rejected), or beslutat;
    "förslag till fullmäktige" (with "avslag" when it proposes rejection)
    where the organ only proposes and the council decides."""
    flat = re.sub(r"\s+", " ", decision)
    if heading := re.search(r"\bBeslut\s(?=[A-ZÅÄÖ0-9])", flat):  # from the § 's "Beslut" on, past a page header
        flat = flat[heading.end():]
    if m := _DECISION_END.search(flat):
        flat = flat[:m.start()]
    found = next((name for name, pattern in _OUTCOMES if pattern.search(flat)), None)
    if (council := TO_COUNCIL.search(flat)) and found not in ("återremitterat", "bordlagt", "utgått"):
        decided_too = re.search(r"\bbeslutar\b", flat[:council.start()])  # "beslutar ... för sig, och föreslår KF ..."
        return ("beslutat, " if decided_too else "") + "förslag till fullmäktige" + (" (avslag)" if found == "avslaget" else "")
    return found or "beslutat"


def positions_of_file(texts: list[str]) -> list[list[Position]]:
    """The positions of each of one file's passages, a member named without
    a party given the party the file writes for them elsewhere: what both
    indexing and Store.refresh_positions call, so both read alike."""
    parties = party_map(texts)
    return [positions(text, parties) for text in texts]
