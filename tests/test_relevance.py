from sok.query.relevance import QueryTerms, evidence, is_english
from sok.query.search import Searcher
from sok.query.timeline import timeline
from sok.store.lexical import LexicalIndex


def test_language_detection():
    assert is_english("What did the committee say about trauma care?")
    assert not is_english("Vad rapporterades om SIP?")
    assert not is_english("lustgas förbud offentlig plats Kungsbacka")


def test_coverage_counts_compounds_and_weights_rare_terms():
    index = LexicalIndex.build([1, 2, 3], ["snöröjning av vägar", "vägar och gator", "vägar i kommunen"])
    terms = QueryTerms.of("snöröjning vägar", index)
    assert terms.weights["snöröjning"] > terms.weights["väg"]
    assert terms.coverage("Vintersnöröjningen av vägarna") == 1.0
    assert 0 < terms.coverage("vägarna") < 0.5
    assert evidence(terms, "vägarna", margin=0.05) > evidence(terms, "vägarna", margin=0.0)


def test_timeline_counts_relevant_passages_by_date(real_index):
    t = timeline(Searcher(real_index[0]), "SIP samordnad individuell plan")
    assert t.hits and sum(n for _, n in t.by_organ) == len(t.hits)
    assert "2023-05-30" in dict(t.by_date)  # the undated report counts under the (first) meeting it names
    assert sum(n for _, n in t.by_date) == len(t.hits)  # each passage once: dates, organs and the list agree
    assert timeline(Searcher(real_index[0]), "konserthall i stadsparken").hits == []
