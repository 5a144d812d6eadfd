from sok.query.answer import _date_of, _score, ask, is_debris, split_sentences
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


def test_a_line_sharing_only_the_question_frame_does_not_outrank_one_on_its_topic():
    """"Hur gick det med översiktsplanen?": a line that only shares "gick" is
    worth less than one about the plan, and equal lines favour the higher passage."""
    terms = QueryTerms({t: 1.0 for t in tokenize("gick översiktsplanen")}, english=False)
    hit = _hit("protokoll", "2024-01-01")
    lines = [("Skolan gick med underskott under hela året.", hit),
             ("Översiktsplanen antogs av kommunfullmäktige i maj.", hit)]
    frame, topic = _score(None, "Hur gick det med översiktsplanen?", terms, lines, [0, 0])
    assert topic > frame
    same = [("Översiktsplanen antogs i maj.", hit), ("Översiktsplanen antogs i maj.", hit)]
    first, later = _score(None, "Hur gick det med översiktsplanen?", terms, same, [0, 5])
    assert first > later
