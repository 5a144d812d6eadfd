"""Members' positions read from the minutes' own wording (ingest.politics),
and a member's or party's record over the index (query.politics, sok person)."""

from sok.ingest.politics import party_of, person_key, positions
from sok.query.politics import record
from sok.store.db import Store

# Sentences as the Nacka and Kungsbacka minutes in ../shared/corpus write them, hard wraps included.
NACKA = """Yrkanden
Helena Westerling (S) yrkade, med instämmande av Mikael Carlsson (NL), Tomas
Ottosson (V) och Sidney Holm (MP), att ärendet återremitteras.
Mats Gerdau (M) yrkade bifall till verksamhetsutskottets förslag.
Beslutsgång
Kommunstyrelsen beslutade i enlighet med Mats Gerdaus yrkande.
Reservationer
Khashayar Farmanbar (S) och Sidney Holm (MP) reserverade sig mot beslutet.
Protokollsanteckningar
Esa Pekka Örmä (SD) lät anteckna följande för Sverigedemokraternas kommunstyrelsegrupp."""


def test_yrkanden_reservations_and_notes_with_who_and_party():
    found = [(p.kind, p.person, p.party, p.stance) for p in positions(NACKA)]
    assert found == [
        ("yrkande", "Helena Westerling", "S", "återremiss"),
        ("yrkande", "Mats Gerdau", "M", "bifall"),
        ("reservation", "Khashayar Farmanbar", "S", None),
        ("reservation", "Sidney Holm", "MP", None),
        ("protokollsanteckning", "Esa Pekka Örmä", "SD", None),
    ]
    first = positions(NACKA)[0]
    assert first.joined == [("Mikael Carlsson", "NL"), ("Tomas Ottosson", "V"), ("Sidney Holm", "MP")]
    assert first.text.startswith("Helena Westerling (S) yrkade") and "Yrkanden" not in first.person


def test_a_name_mentioned_is_not_a_position():
    assert positions("Kommunstyrelsen beslutade i enlighet med Mats Gerdaus yrkande.") == []
    assert positions("Ordförande Lisa Andersson (M) finner att kommunstyrelsen bifaller förslaget.") == []
    kungsbacka = positions("Monica Brohede Tellström (L) yrkar bifall till liggande förslag.")
    assert [(p.person, p.stance) for p in kungsbacka] == [("Monica Brohede Tellström", "bifall")]
    own = positions("Rolf Wasteson (V) yrkar att kommunstyrelsen ska ta initiativ för att öka valdeltagandet.")
    assert own[0].stance == "eget förslag"


def test_one_member_and_one_party_however_written():
    assert person_key("Esa Pekka Örmä") == person_key("Esa Örmä") == "esa örmä"
    assert person_key("Gunilla Grudevall-Steen") == person_key("Gunilla Grudevall Steen")
    assert party_of("(S)") == party_of("Socialdemokraterna") == party_of("s") == "S"
    assert party_of("Vänsterpartiet") == "V"


def test_a_members_record_over_a_real_index(real_index):
    """Nacka KS 2019-05-13 § 135 (protokollsutdrag): "Mats Gerdau (M) yrkade
    att ärendet bordläggs och behandlas på kommunstyrelsens sammanträde den 3 juni 2019"."""
    store = Store(real_index[0])
    try:
        mats = record(store, "Mats Gerdau")
        assert mats and all(e.person == "Mats Gerdau" and not e.joined for e in mats)
        e = mats[0]
        assert (e.kind, e.stance, e.item, e.date) == ("yrkande", "bordläggning", "§ 135", "2019-05-13")
        assert e.file.endswith("KS_135.pdf") and e.page_start >= 1
        assert [x.text for x in record(store, party="Moderaterna")] == [x.text for x in mats]
        assert record(store, "Mats Gerdau", party="S") == []
        assert record(store, "Ingen Sådan") == []
    finally:
        store.close()


def test_sok_person_lists_a_members_positions_with_citations(real_index, capsys):
    from sok.ui.cli import main

    index_dir = str(real_index[0])
    assert main(["person", "Mats Gerdau", "--index", index_dir]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Mats Gerdau: 1 yrkande")
    assert "2019-05-13  kommunstyrelsen § 135" in out and "Yrkande (bordläggning): Mats Gerdau (M) yrkade" in out
    assert "KS_135.pdf, s. 1" in out
    assert main(["person", "--parti", "Vänsterpartiet", "--index", index_dir]) == 0
    assert "Inga yrkanden" in capsys.readouterr().out
    assert main(["person", "--index", index_dir]) == 2


def test_only_the_members_right_before_the_verb_are_its_subject():
    text = ("Frågan väcktes av Rolf Wasteson (V) i april. Tommy Nilsson (S), Inga-Lill Bjartén (S) och "
            "Johannes Svensson (S) reserverar sig mot beslutet.")
    assert [p.person for p in positions(text)] == ["Tommy Nilsson", "Inga-Lill Bjartén", "Johannes Svensson"]
    mid = "Enligt Rolf Wasteson (V) är det arbetsutskottet som yrkar bifall till förslaget."
    assert positions(mid) == []
