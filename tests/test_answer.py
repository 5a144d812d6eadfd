import sqlite3

from sok.query.answer import (
    _date_of,
    _shipped_line_ranker,
    ask,
    candidates_of,
    is_debris,
    line_features,
    split_sentences,
)
from sok.query.relevance import QueryTerms
from sok.query.search import Searcher
from sok.records import NO_ANSWER, Hit
from sok.store.lexical import tokenize


def test_split_sentences_keeps_headings_and_list_items_apart():
    text = ("Förslag till beslut\nKommunstyrelsen beslutar om nedläggning av skolan. Skolan stängs\n"
            "den 1 juli 2019 och eleverna får plats på andra skolor.\n- Första punkten i en lista här\n| a | b |")
    assert split_sentences(text) == [
        "Kommunstyrelsen beslutar om nedläggning av skolan.",
        "Skolan stängs den 1 juli 2019 och eleverna får plats på andra skolor.",
        "Första punkten i en lista här",
    ]


def test_sip_answer_lists_meetings_with_citations(real_index):
    s = Searcher(real_index[0])
    answer = ask(s, "Vad rapporterades om SIP?")
    assert not answer.no_answer
    numbers = {src.number for src in answer.sources}
    assert all(sent.citations and set(sent.citations) <= numbers for sent in answer.sentences)
    dated = {sent.date for sent in answer.sentences if "SIP" in sent.text}
    assert {"2023-05-30", "2023-09-20"} <= dated
    assert all("2023_aterrapportering" in src.file and src.page_start == 1 for src in answer.sources if "SIP" in
               " ".join(t.text for t in answer.sentences if src.number in t.citations))
    text = answer.render()
    assert "2023-05-30" in text and "Källor:" in text and "[1]" in text
    dates = [sent.date for sent in answer.sentences if sent.date]
    assert dates == sorted(dates)
    # two passages of the one page are told apart: their part and their opening words
    labels = [src.label for src in answer.sources]
    assert len(answer.sources) >= 2 and len(set(labels)) == len(labels), labels
    with sqlite3.connect(real_index[0] / "sok.sqlite") as db:
        for src in answer.sources:
            (passage,), = db.execute("SELECT text FROM passages WHERE id=?", (src.passage_id,)).fetchall()
            assert src.quote and src.quote.rstrip("…") in " ".join(passage.split())[:200]  # its opening words
            assert f"[{src.number}] {src.label}" in text


def test_no_answer_when_nothing_matches(real_index):
    # "Hur går planerna på en ny konserthall?" shares "planer" and "ny" with the SIP report and is
    # answered since the cut-off is calibrated to keep answerable questions (README, the cut-off)
    answer = ask(Searcher(real_index[0]), "Hur mycket kostar en ny ishall?")
    assert answer.no_answer and answer.render().startswith(NO_ANSWER)


def test_table_rows_contents_lines_and_bare_references_are_never_lines():
    assert is_debris("…1 059 1 059 … 43120 2523 3259646459493823 8")  # a table row run together
    assert is_debris("Budget och verksamhetsplan ........ 14")  # a contents line
    assert is_debris("Kommunstyrelsen beslutade i enlighet med Mats Gerdaus yrkande.")  # the content is elsewhere
    assert not is_debris("Kostnaden beräknas till 12,5 miljoner kronor år 2024.")
    assert not is_debris("Antal upprättade SIP per vårdcentral 2022: 45")


def test_a_line_that_points_ahead_brings_what_it_points_at():
    text = ("Tomas Ottosson (V) reserverade sig och angav följande.\nVi vill behålla skolan i Fisksätra för barnens "
            "skull.\n\nKommunstyrelsen beslutade i enlighet med Mats Gerdaus yrkande.")
    assert split_sentences(text) == [
        "Tomas Ottosson (V) reserverade sig och angav följande. Vi vill behålla skolan i Fisksätra för barnens skull."]


def _hit(doc_type: str, date: str) -> Hit:
    return Hit(passage_id=1, score=1.0, file="f.pdf", path="/f.pdf", page_start=1, page_end=1, title="t", date=date,
               text="", snippet="", heading_path=[], highlights=[], doc_type=doc_type)


def test_lines_from_a_meeting_record_are_dated_by_that_meeting():
    line = "Ärendet bordläggs till sammanträdet den 3 juni 2019."
    assert _date_of(line, _hit("protokoll", "2019-05-13")) == "2019-05-13"
    # a report over several meetings dates a line by the meeting it names
    assert _date_of("Vid beredningens sammanträde den 30 maj redovisades SIP.", _hit("återrapportering", "2023-10-01")) \
        == "2023-05-30"


def test_a_line_sharing_only_the_question_frame_does_not_outrank_one_on_its_topic(real_index):
    """"Hur gick det med översiktsplanen?": by the shipped line scorer, a line
    that only shares "gick" is worth less than one about the plan, and the
    same line is worth more from the higher passage."""
    s = Searcher(real_index[0])
    question = "Hur gick det med översiktsplanen?"
    terms = QueryTerms({t: 1.0 for t in tokenize("gick översiktsplanen")}, english=False)
    top, low = _hit("protokoll", "2024-01-01"), _hit("protokoll", "2024-01-01")
    top.text = "Skolan gick med underskott under hela året. Översiktsplanen antogs av kommunfullmäktige i maj."
    low.text = "Översiktsplanen antogs av kommunfullmäktige i maj."
    low.passage_id, low.score = top.passage_id + 1, top.score - 1.0
    cands = candidates_of([top, low])
    assert [c.text for c in cands] == ["Skolan gick med underskott under hela året.",
                                       "Översiktsplanen antogs av kommunfullmäktige i maj.",
                                       "Översiktsplanen antogs av kommunfullmäktige i maj."]
    frame, topic, later = _shipped_line_ranker().score(line_features(s, question, terms, cands))
    assert topic > frame and topic > later


def test_a_diarienummer_line_is_a_line_and_answers_which_diarienummer():
    assert not is_debris("§ 74 Dnr 2024/28")
    assert split_sentences("§ 74 Dnr 2024/28\n\nVägar") == ["§ 74 Dnr 2024/28"]  # a bare heading is not


def test_decision_questions_are_answered_from_the_decision_with_body_and_paragraph(real_index):
    """"Vad beslutade ...": the § decision comes first among the lines, marked
    with the body and the §, even where the search ranks the § 's other text above it."""
    answer = ask(Searcher(real_index[0]), "Vad beslutade kommunstyrelsen om Fisksätraskolan?")
    decisions = [s for s in answer.sentences if (s.role or "").startswith("Beslut")]
    assert decisions and decisions[0].role == "Beslut, kommunstyrelsen § 135"
    assert "bordläggs" in decisions[0].text and decisions[0].date == "2019-05-13"
    assert "Beslut, kommunstyrelsen § 135: Kommunstyrelsen beslutar att ärendet bordläggs" in answer.render()


def test_a_line_says_whether_it_is_a_decision_a_proposal_a_yrkande_or_a_reservation():
    from sok.query.answer import line_role

    protocol = _hit("protokoll", "2019-06-03")
    protocol.organ, protocol.item = "kommunstyrelsen", "§ 176"
    memo = _hit("tjänsteskrivelse", "2019-05-13")
    assert line_role("Kommunstyrelsen beslutar om nedläggning av Fisksätraskolans skolenhet.", protocol) \
        == "Beslut, kommunstyrelsen § 176"
    assert line_role("Kommunfullmäktige avslår motionen.", protocol) == "Beslut (avslag), kommunstyrelsen § 176"
    # the same words in a tjänsteskrivelse are a proposal, not a decision
    assert line_role("Kommunstyrelsen beslutar om nedläggning av Fisksätraskolans skolenhet.", memo) \
        == "Förslag i tjänsteskrivelse"
    # a styrelse's decision to propose something to the council is its decision
    assert line_role("Kommunstyrelsen föreslår kommunfullmäktige att anta planen.", protocol) \
        == "Beslut (förslag till fullmäktige), kommunstyrelsen § 176"
    assert line_role("Nämnden föreslår att planen antas.", protocol) == "Förslag i protokoll"
    assert line_role("Tomas Ottosson (V) yrkade att kommunstyrelsen beslutar att inte lägga ner skolan.", protocol) \
        == "Yrkande"
    assert line_role("Mikael Carlsson (NL) reserverade sig mot beslutet.", protocol) == "Reservation"
    assert line_role("Fisksätraskolan har tappat elever under många år.", protocol) is None
