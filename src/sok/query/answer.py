"""`sok ask`: an answer made of sentences taken from the best passages, each
followed by its citation, grouped by meeting date (oldest first). Extractive
by default, so every line can be checked against its source; an optional
OpenAI-compatible endpoint may write the answer instead, and is held to the
same rule (every sentence cites an existing source) or set aside."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sok.config import ANSWER, AnswerConfig
from sok.ingest.chunking import windows
from sok.language import DECISION_TYPES, QUESTION_FRAME_WORDS, TO_COUNCIL, TOC_LEADER, find_case_numbers, resolve_dates
from sok.query import politics
from sok.query.fusion import MARGIN_SCALE, RANKER_FILE, LinearRanker
from sok.query.llm import generated_answer
from sok.query.relevance import QueryTerms
from sok.query.search import Searcher, SearchError
from sok.records import Answer, Filters, Hit, Sentence, source_of
from sok.store.lexical import tokenize

_FRAME_TERMS = frozenset(t for w in QUESTION_FRAME_WORDS for t in tokenize(w))
MAX_SENTENCE_WORDS = 60  # longer "sentences" are tables or letterheads run together
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"”»(]?[A-ZÅÄÖ0-9])")
_BULLET = re.compile(r"^[-•–*]\s|^\d{1,2}[.)]\s")
_SPACE = re.compile(r"\s+")


def _segments(text: str) -> list[str]:
    """Lines joined into running text, except after a sentence end, after a
    short line (a heading, a letterhead field) and before a list item."""
    segments: list[str] = []
    prev = ""
    cells = re.sub(r"\s*\|\s*|<br\s*/?>", lambda m: "\n\n" if "|" in m.group() else " ", text)  # table cells apart
    for line in (raw.strip() for raw in cells.split("\n")):
        if not line:
            prev = ""
            continue
        joins = segments and prev and not prev.endswith((".", "!", "?", ":")) and len(prev.split()) > 6
        if joins and not _BULLET.match(line):
            segments[-1] += " " + line
        else:
            segments.append(line)
        prev = line
    return segments


_NUMBERISH = re.compile(r"^[\d\s.,:;%/()+\-–]+$")
_WORDISH = re.compile(r"[A-Za-zÅÄÖåäöÉé]{2,}")
# A line that points ahead ("... och angav följande:") is joined to what it
# points at; one that only refers to content elsewhere ("Kommunstyrelsen
# beslutade i enlighet med Mats Gerdaus yrkande.") says nothing alone.
_POINTS_AHEAD = re.compile(r"(?:följande|nedan)(?:\s+(?:beslut|yttrande|motivering|förslag))?\s*[.:]?$|:$", re.IGNORECASE)
_REFERS_ELSEWHERE = re.compile(r"i enlighet med [^.]{0,80}(?:yrkande|förslag)\.?$|enligt bilaga\s*\d*\.?$",
                               re.IGNORECASE)


def is_debris(sentence: str) -> bool:
    """A fragment of under four words, a table row, a table-of-contents line,
    or a line that refers to content it does not hold: never a line of an
    answer. A short line that carries a case number ("§ 74 Dnr 2024/28") is
    kept: it answers "which diarienummer"."""
    tokens = sentence.split()
    if TOC_LEADER.search(sentence):
        return True
    if find_case_numbers(sentence) and len(tokens) <= 12:
        return False
    numeric = sum(bool(_NUMBERISH.match(t)) for t in tokens)
    words = len(_WORDISH.findall(sentence))
    return (len(tokens) < 4 or numeric >= 0.4 * len(tokens) or words < 3
            or bool(_REFERS_ELSEWHERE.search(sentence.rstrip())))


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a passage, whitespace collapsed; a line
    that points ahead carries what follows it; table rows, contents lines and
    references to elsewhere are left out."""
    parts = [_SPACE.sub(" ", p).strip(" -•–*") for seg in _segments(text) for p in _SENTENCE_END.split(seg)]
    parts = [p for p in parts if p]
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if _POINTS_AHEAD.search(part) and i + 1 < len(parts):
            part, i = f"{part} {parts[i + 1]}", i + 1
        if len(part.split()) <= MAX_SENTENCE_WORDS and not is_debris(part):
            out.append(part)
        i += 1
    return out


# Records of a meeting: a line from one belongs under that meeting's date,
# whatever dates the line mentions (the postponement decided on 2019-05-13 is
# news of 2019-05-13, even if it names 2019-06-03).
_MEETING_RECORDS = frozenset({"protokoll", "protokollsutdrag", "protokollsbilaga", "kallelse", "föredragningslista",
                              "handlingar", "tjänsteskrivelse"})


def _date_of(sentence: str, hit: Hit) -> str | None:
    """The date of the meeting whose record the line comes from (or the
    document's own date). Only a report that covers several meetings (an
    återrapportering, a bilaga) dates a line by the meeting the line itself
    names ("vid beredningens sammanträde den 30 maj")."""
    if hit.doc_type in _MEETING_RECORDS and hit.date:
        return hit.date
    known = hit.date or (hit.dates[0] if hit.dates else None)
    found = resolve_dates(sentence, int(known[:4]) if known else None)
    return found[0] if found else hit.date


# What a line is, in the record it comes from. A meeting record states its
# decisions in the present tense ("Kommunstyrelsen beslutar att ..."); the
# same words in a tjänsteskrivelse, kallelse or motion are a proposal, and a
# yrkande or a reservation is neither.
_DECIDES_NOW = re.compile(r"\b(beslutar|beslutade att|godkänner|fastställer|antar|bifaller|avslår|återremitterar|"
                          r"bordlägger|bordläggs|uppdrar|överlämnar|lägger .{0,40}till handlingarna|"
                          r"anser .{0,30}besvarad)\b", re.I)
_PROPOSES = re.compile(r"\bföresl(?:år|ås|og|ogs)\b|\bförslag till beslut\b", re.I)
_REJECTS = re.compile(r"\bavslår\b|\bavslag\b", re.I)
_CLAIMS = re.compile(r"\byrka(?:r|de)\b", re.I)
_RESERVES = re.compile(r"\breserver(?:ar|ade) sig\b|\breservation\b", re.I)


def line_role(text: str, hit: Hit) -> str | None:
    """What a reader must know to read the line right: a decision (with the
    body and §, and whether it rejects), a proposal (and in what kind of
    document), a yrkande or a reservation; None for everything else."""
    if _RESERVES.search(text):
        return "Reservation"
    if _CLAIMS.search(text):
        return "Yrkande"
    decision_words = _DECIDES_NOW.search(text)
    where = " ".join(x for x in (hit.organ, hit.item) if x)
    if hit.doc_type in DECISION_TYPES and TO_COUNCIL.search(text):
        # a nämnd's or styrelse's decision is often a proposal to the council: still its decision
        return f"Beslut (förslag till fullmäktige), {where}" if where else "Beslut (förslag till fullmäktige)"
    if hit.doc_type in DECISION_TYPES and decision_words and not _PROPOSES.search(text):
        kind = "Beslut (avslag)" if _REJECTS.search(text) else "Beslut"
        return f"{kind}, {where}" if where else kind
    if _PROPOSES.search(text) or decision_words:
        return f"Förslag i {hit.doc_type}" if hit.doc_type and hit.doc_type != "other" else "Förslag"
    return None


def _similar(a: str, b: str) -> bool:
    wa, wb = set(a.casefold().split()), set(b.casefold().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) >= 0.8


# What a Swedish question word asks for, and how a sentence that gives it looks.
_EXPECTS = [
    (re.compile(r"^\s*när\b", re.I), re.compile(r"\b(19|20)\d\d\b|\b\d{1,2} (januari|februari|mars|april|maj|juni|juli|"
                                                  r"augusti|september|oktober|november|december)\b", re.I)),
    (re.compile(r"^\s*(hur (mycket|många|stor)|vilket belopp|vad kostar)\b", re.I), re.compile(r"\d")),
    (re.compile(r"\b(diarienummer|dnr|ärendenummer)\b", re.I), re.compile(r"\bdnr\b|\d{4}/\d|/\d{4}\b", re.I)),
    (re.compile(r"^\s*vem\b|^\s*vilka (läkare|ledamöter|personer)\b", re.I),
     re.compile(r"\b[A-ZÅÄÖ][a-zåäö]+ [A-ZÅÄÖ][a-zåäö]+\b|\((S|M|C|L|KD|V|MP|SD|NL)\)")),
]


def _has_expected(question: str, sentence: str) -> bool:
    """The sentence has the kind of answer the question word asks for."""
    for asks, gives in _EXPECTS:
        if asks.search(question):
            return bool(gives.search(sentence))
    return False


def _words(text: str) -> set[str]:
    return set(tokenize(text))


def _window_cosines(searcher: Searcher, qvec: np.ndarray, candidates: list[Candidate]) -> np.ndarray:
    """Each candidate line's dense match: the cosine of the sentence window
    (embedded at indexing, chunking.windows) that holds most of its words, so
    a line is judged by its own sentences, not by its whole passage, and
    nothing is embedded at question time."""
    out = np.zeros(len(candidates), dtype=np.float32)
    per_passage: dict[int, tuple[list[set[str]], np.ndarray]] = {}
    for i, c in enumerate(candidates):
        sentence, hit = c.text, c.hit
        if hit.passage_id not in per_passage:
            parts = windows(hit.text)
            per_passage[hit.passage_id] = ([_words(w) for w in parts],
                                           searcher.backend.each_window_cosine(qvec, hit.passage_id))
        parts_words, cosines = per_passage[hit.passage_id]
        if not len(cosines):
            continue
        if len(cosines) == 1 or len(parts_words) != len(cosines):
            out[i] = float(cosines.max()) if len(cosines) == 1 else float(cosines.mean())
            continue
        words = _words(sentence)
        overlap = [len(words & w) for w in parts_words]
        out[i] = float(cosines[int(np.argmax(overlap))])
    return out


# Features of a candidate line, scored by a logistic regression fitted on
# which lines hold the gold answers (`sok eval --fit-ranker`, shipped as
# line_ranker.json), measured out-of-fold by `sok eval --answers --folds`.
LINE_FEATURES = (
    "topic_coverage", "coverage", "full_sentence", "expected", "window_margin", "passage_rank", "passage_score",
    "first_line", "position", "log_words", "has_number", "decision_line", "english", "english_window_margin",
    "uncovered_window_margin",
)
LINE_RANKER_FILE = Path(__file__).with_name("line_ranker.json")
_ASKS_DECISION = re.compile(r"\bbeslut|\bbeslöt|\bföresl[åa]|\bbesluta", re.I)
_DECIDES = re.compile(r"\b(beslutar|beslutade|beslöt|besluta|godkänner|godkände|fastställer|fastställde|antar|antog|"
                      r"föreslår|föreslås|bifaller|biföll|avslår|avslog|återremitterar|uppdrar|ger .{0,40}i uppdrag)\b",
                      re.I)


@dataclass
class Candidate:
    text: str
    hit: Hit
    rank: int  # the passage's rank among the hits
    position: int  # the line's place in its passage
    lines: int  # how many lines the passage offers


def candidates_of(hits: list[Hit], cfg: AnswerConfig = ANSWER) -> list[Candidate]:
    """Every line of every hit (a passage with no sentence of its own, a
    table or a list of names, offers its snippet)."""
    out: list[Candidate] = []
    for rank, h in enumerate(hits):
        lines = split_sentences(h.text)[: cfg.sentences_per_passage_scan] or [h.snippet]
        out.extend(Candidate(text, h, rank, i, len(lines)) for i, text in enumerate(lines))
    return out


def line_features(searcher: Searcher, question: str, terms: QueryTerms, cands: list[Candidate],
                  cfg: AnswerConfig = ANSWER) -> np.ndarray:
    """One row per candidate, columns as LINE_FEATURES: how much of the
    question's topic the line covers (its frame words, such as "gick",
    count little), whether it is a whole sentence and has what the question
    word asks for (a date for "När"), how its own sentence window's cosine
    compares with the best line's (the dense match, computed at indexing),
    how its passage ranked, where in the passage it stands, and whether it
    states a decision when the question asks for one."""
    if not cands:
        return np.zeros((0, len(LINE_FEATURES)))
    frame = {t for t in terms.weights if t in _FRAME_TERMS}
    topic = QueryTerms({t: w * (cfg.frame_weight if t in frame else 1.0) for t, w in terms.weights.items()},
                       terms.english)
    dense = _window_cosines(searcher, searcher.embed_query(question), cands)
    margin = (dense - dense.max()) * MARGIN_SCALE
    best_score = max(c.hit.score for c in cands)
    topic_cov = np.array([topic.coverage(c.text) for c in cands])
    english = float(terms.english)
    asks_decision = bool(_ASKS_DECISION.search(question))
    return np.column_stack([
        topic_cov,
        [terms.coverage(c.text) for c in cands],
        [float(c.text.rstrip().endswith((".", "!", "?"))) for c in cands],
        [float(_has_expected(question, c.text)) for c in cands],
        margin,
        [-np.log1p(c.rank) for c in cands],
        [max(-5.0, c.hit.score - best_score) for c in cands],
        [float(c.position == 0) for c in cands],
        [c.position / max(1, c.lines - 1) for c in cands],
        [np.log(max(1, len(c.text.split()))) for c in cands],
        [float(any(ch.isdigit() for ch in c.text)) for c in cands],
        [float(asks_decision and bool(_DECIDES.search(c.text))) for c in cands],
        np.full(len(cands), english),
        english * margin,
        (1.0 - topic_cov.max()) * margin,
    ]).astype(np.float64)


def load_line_ranker(path: Path = LINE_RANKER_FILE) -> LinearRanker:
    return LinearRanker.from_json(json.loads(Path(path).read_text(encoding="utf-8")), LINE_FEATURES)


@functools.cache
def _shipped_line_ranker() -> LinearRanker:
    try:
        return load_line_ranker()
    except (OSError, ValueError, KeyError) as exc:
        raise SearchError(f"Radmodellen ({LINE_RANKER_FILE}) kan inte läsas: {exc}. Installera om sok, eller "
                          f"anpassa den med  sok eval FRÅGOR.jsonl --fit-ranker {RANKER_FILE}") from None


def extractive(searcher: Searcher, question: str, hits: list[Hit], cfg: AnswerConfig = ANSWER,
               lines: LinearRanker | None = None) -> Answer:
    """The best lines of the passages that clear the cut-off, by the line
    scorer (`lines`, else the shipped one)."""
    answer = Answer(question)
    if not hits:
        return answer
    cands = candidates_of(hits, cfg)
    if not cands:
        return answer
    ranker = lines or _shipped_line_ranker()
    scores = ranker.score(line_features(searcher, question, QueryTerms.of(question, searcher.backend), cands, cfg))
    floor = ranker.passage_threshold
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    chosen: list[Candidate] = []
    per_hit: dict[int, int] = {}

    def take(i: int) -> None:
        c = cands[i]
        if per_hit.get(c.hit.passage_id, 0) >= cfg.max_per_passage or any(_similar(o.text, c.text) for o in chosen):
            return
        chosen.append(c)
        per_hit[c.hit.passage_id] = per_hit.get(c.hit.passage_id, 0) + 1

    # A question about what was decided gets the decisions first: the best
    # decision line of each § decision among the hits (with_decisions).
    if _ASKS_DECISION.search(question):
        for hit in hits:
            if hit.is_decision and hit.doc_type in DECISION_TYPES:
                best = next((i for i in order if cands[i].hit is hit
                             and (line_role(cands[i].text, hit) or "").startswith("Beslut")), None)
                if best is not None:
                    take(best)
    # The best line of each of the strongest passages first: they cleared the
    # cut-off, so each deserves a line even when its wording differs from the question's.
    for hit in hits[: cfg.lead_passages]:
        best = next((i for i in order if cands[i].hit is hit), None)
        if best is not None:
            take(best)
    for i in order:
        if len(chosen) >= cfg.max_sentences or scores[i] < floor:
            break
        take(i)

    numbers: dict[int, int] = {}
    for c in chosen:
        if c.hit.passage_id not in numbers:
            numbers[c.hit.passage_id] = len(numbers) + 1
            answer.sources.append(source_of(numbers[c.hit.passage_id], c.hit))
        answer.sentences.append(Sentence(c.text, _date_of(c.text, c.hit), [numbers[c.hit.passage_id]],
                                         line_role(c.text, c.hit)))
    answer.sentences.sort(key=lambda s: (s.date is None, s.date or ""))
    return answer


def answer_hits(searcher: Searcher, question: str, cfg: AnswerConfig = ANSWER,
                filters: Filters | None = None) -> list[Hit]:
    """What an answer is made from: the hits that clear the cut-off, and for
    a question about what was decided, the decisions of their §§."""
    hits = searcher.search(question, k=cfg.passages, cutoff=True, filters=filters)
    return with_decisions(searcher, question, hits) if hits and _ASKS_DECISION.search(question) else hits


def with_decisions(searcher: Searcher, question: str, hits: list[Hit]) -> list[Hit]:
    """The hits, each followed by the decision of its § where the search did
    not find it (Searcher.decisions_for)."""
    added = searcher.decisions_for(question, hits)
    out: list[Hit] = []
    seen: set[int] = set()
    for h in hits:
        for x in (h, *added.get(h.passage_id, [])):
            if x.passage_id not in seen:
                seen.add(x.passage_id)
                out.append(x)
    return out


def ask(searcher: Searcher, question: str, cfg: AnswerConfig = ANSWER, llm_url: str | None = None,
        llm_model: str | None = None, filters: Filters | None = None, lines: LinearRanker | None = None) -> Answer:
    """Retrieve with the relevance cut-off (and the filters), then answer
    extractively or, when an endpoint is given, with a checked generated answer."""
    hits = answer_hits(searcher, question, cfg, filters)
    # "Vem reserverade sig ...?", "Hur röstade (M) ...?": from the positions the §§ record
    if hits and (asked := politics.asked_about(question)):
        recorded = politics.answer_from_positions(searcher.backend, question, hits, asked, cfg)
        if not recorded.no_answer:
            return recorded
    if llm_url and hits:

        answer, reason = generated_answer(llm_url, llm_model, question, hits, cfg)
        if answer is not None:
            return answer
        fallback = extractive(searcher, question, hits, cfg, lines)
        fallback.note = f"Det genererade svaret användes inte: {reason}. Svaret är i stället utdrag ur källorna."
        return fallback
    return extractive(searcher, question, hits, cfg, lines)
