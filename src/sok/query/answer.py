"""`sok ask`: an answer made of sentences taken from the best passages, each
followed by its citation, grouped by meeting date (oldest first). Extractive
by default, so every line can be checked against its source; an optional
OpenAI-compatible endpoint may write the answer instead, and is held to the
same rule (every sentence cites an existing source) or set aside."""

from __future__ import annotations

import re

import numpy as np

from sok.config import ANSWER, AnswerConfig
from sok.ingest.chunking import windows
from sok.language import QUESTION_FRAME_WORDS, resolve_dates
from sok.query.llm import generated_answer
from sok.query.relevance import QueryTerms
from sok.query.search import Searcher
from sok.records import Answer, Filters, Hit, Sentence, source_of
from sok.store.lexical import tokenize

_FRAME_TERMS = frozenset(t for w in QUESTION_FRAME_WORDS for t in tokenize(w))
MAX_SENTENCE_WORDS = 60  # longer "sentences" are tables or letterheads run together
FRAGMENT_WEIGHT = 0.7  # a heading or cut-off line says less than a full sentence
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
_TOC_LEADER = re.compile(r"\.{4,}|…{2,}|(?:\. ){4,}")
# A line that points ahead ("... och angav följande:") is joined to what it
# points at; one that only refers to content elsewhere ("Kommunstyrelsen
# beslutade i enlighet med Mats Gerdaus yrkande.") says nothing alone.
_POINTS_AHEAD = re.compile(r"(?:följande|nedan)\s*[.:]?$|:$", re.IGNORECASE)
_REFERS_ELSEWHERE = re.compile(r"i enlighet med [^.]{0,80}(?:yrkande|förslag)\.?$|enligt bilaga\s*\d*\.?$",
                               re.IGNORECASE)


def is_debris(sentence: str) -> bool:
    """A table row, a table-of-contents line, or a line that refers to
    content it does not hold: never a line of an answer."""
    tokens = sentence.split()
    numeric = sum(bool(_NUMBERISH.match(t)) for t in tokens)
    words = len(_WORDISH.findall(sentence))
    return (numeric >= 0.4 * len(tokens) or words < 3 or bool(_TOC_LEADER.search(sentence))
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
        if 4 <= len(part.split()) <= MAX_SENTENCE_WORDS and not is_debris(part):
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


def _similar(a: str, b: str) -> bool:
    wa, wb = set(a.casefold().split()), set(b.casefold().split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) >= 0.8


# What a Swedish question word asks for, and how a sentence that gives it looks.
_EXPECTS = [
    (re.compile(r"^\s*när\b", re.I), re.compile(r"\b(19|20)\d\d\b|\b\d{1,2} (januari|februari|mars|april|maj|juni|juli|"
                                                  r"augusti|september|oktober|november|december)\b", re.I)),
    (re.compile(r"^\s*(hur (mycket|många|stor)|vilket belopp|vad kostar)\b", re.I), re.compile(r"\d")),
    (re.compile(r"^\s*vem\b|^\s*vilka (läkare|ledamöter|personer)\b", re.I),
     re.compile(r"\b[A-ZÅÄÖ][a-zåäö]+ [A-ZÅÄÖ][a-zåäö]+\b|\((S|M|C|L|KD|V|MP|SD|NL)\)")),
]
EXPECTED_BONUS = 0.2


def _expected_bonus(question: str, sentence: str) -> float:
    """A sentence that has the kind of answer the question word asks for."""
    for asks, gives in _EXPECTS:
        if asks.search(question):
            return EXPECTED_BONUS if gives.search(sentence) else 0.0
    return 0.0


def _words(text: str) -> set[str]:
    return set(tokenize(text))


def _window_cosines(searcher: Searcher, qvec: np.ndarray, candidates: list[tuple[str, Hit]]) -> np.ndarray:
    """Each candidate line's dense match: the cosine of the sentence window
    (embedded at indexing, chunking.windows) that holds most of its words, so
    a line is judged by its own sentences, not by its whole passage, and
    nothing is embedded at question time."""
    out = np.zeros(len(candidates), dtype=np.float32)
    per_passage: dict[int, tuple[list[set[str]], np.ndarray]] = {}
    for i, (sentence, hit) in enumerate(candidates):
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


def _score(searcher: Searcher, question: str, terms: QueryTerms, candidates: list[tuple[str, Hit]],
           ranks: list[int], cfg: AnswerConfig = ANSWER) -> np.ndarray:
    """Lexical coverage of the question's topic terms (its frame words, such
    as "gick", count little), a little more for a sentence that has what the
    question word asks for (a date for "När"), a little more the higher its
    passage ranked, and less the further its own sentence window falls below
    the best-matching window among the candidates (the dense match: it
    prefers the line that answers over a line that only shares a word); for
    English questions (no shared words) the sentences are embedded and
    compared."""
    if terms.english:
        vecs = searcher.embedder.embed_passages([s for s, _ in candidates])
        return vecs @ searcher.embed_query(question)
    frame = {t for t in terms.weights if t in _FRAME_TERMS}
    topic = QueryTerms({t: w * (cfg.frame_weight if t in frame else 1.0) for t, w in terms.weights.items()},
                       terms.english)
    last = max(1, max(ranks))
    lexical = np.array([
        topic.coverage(s) * (1.0 if s.rstrip().endswith((".", "!", "?")) else FRAGMENT_WEIGHT)
        + _expected_bonus(question, s) + cfg.rank_weight * (1.0 - r / last)
        for (s, _), r in zip(candidates, ranks)
    ])
    if not cfg.dense_weight:
        return lexical
    dense = _window_cosines(searcher, searcher.embed_query(question), candidates)
    return lexical + cfg.dense_weight * (dense - dense.max())


def extractive(searcher: Searcher, question: str, hits: list[Hit], cfg: AnswerConfig = ANSWER) -> Answer:
    """The best sentences of each passage that clears the cut-off."""
    answer = Answer(question)
    if not hits:
        return answer
    terms = QueryTerms.of(question, searcher.backend)
    # A passage with no sentence of its own (a table, a list of names) offers its snippet.
    candidates: list[tuple[str, Hit]] = []
    ranks: list[int] = []
    for rank, h in enumerate(hits):
        for s in split_sentences(h.text)[: cfg.sentences_per_passage_scan] or [h.snippet]:
            candidates.append((s, h))
            ranks.append(rank)
    if not candidates:
        return answer
    scores = _score(searcher, question, terms, candidates, ranks, cfg)
    floor = cfg.min_sentence_score if not terms.english else float(np.max(scores)) - cfg.english_margin
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    chosen: list[tuple[str, Hit]] = []
    per_hit: dict[int, int] = {}

    def take(i: int) -> None:
        text, hit = candidates[i]
        if per_hit.get(hit.passage_id, 0) >= cfg.max_per_passage or any(_similar(c[0], text) for c in chosen):
            return
        chosen.append((text, hit))
        per_hit[hit.passage_id] = per_hit.get(hit.passage_id, 0) + 1

    # The best line of each of the strongest passages first: they cleared the
    # cut-off, so each deserves a line even when its wording differs from the question's.
    for hit in hits[: cfg.lead_passages]:
        best = next((i for i in order if candidates[i][1] is hit), None)
        if best is not None:
            take(best)
    for i in order:
        if len(chosen) >= cfg.max_sentences or scores[i] < floor:
            break
        take(i)

    numbers: dict[int, int] = {}
    for text, hit in chosen:
        if hit.passage_id not in numbers:
            numbers[hit.passage_id] = len(numbers) + 1
            answer.sources.append(source_of(numbers[hit.passage_id], hit))
        answer.sentences.append(Sentence(text, _date_of(text, hit), [numbers[hit.passage_id]]))
    answer.sentences.sort(key=lambda s: (s.date is None, s.date or ""))
    return answer


def ask(searcher: Searcher, question: str, cfg: AnswerConfig = ANSWER, llm_url: str | None = None,
        llm_model: str | None = None, filters: Filters | None = None) -> Answer:
    """Retrieve with the relevance cut-off (and the filters), then answer
    extractively or, when an endpoint is given, with a checked generated answer."""
    hits = searcher.search(question, k=cfg.passages, cutoff=True, filters=filters)
    if llm_url and hits:

        answer, reason = generated_answer(llm_url, llm_model, question, hits, cfg)
        if answer is not None:
            return answer
        fallback = extractive(searcher, question, hits, cfg)
        fallback.note = f"Det genererade svaret användes inte: {reason}. Svaret är i stället utdrag ur källorna."
        return fallback
    return extractive(searcher, question, hits, cfg)
