"""sok.ingest.meeting: documents inside a file, their metadata, agenda items and
parts, read from content. Synthetic pages pin each rule; a few real records
from ../shared/corpus pin the Fisksätraskolan case chain and date resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from sok.ingest.clean import clean_pages
from sok.ingest.extract import extract_file
from sok.ingest.meeting import passage_context, split_documents
from sok.language import resolve_dates
from sok.records import Page

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def pages_of(*texts: str) -> list[Page]:
    """Pages whose original and cleaned text are the same."""
    return [Page(number=i + 1, text=t, clean=t) for i, t in enumerate(texts)]


def offset(page: Page, needle: str) -> int:
    pos = page.clean.index(needle)
    assert pos >= 0
    return pos


# ---------------------------------------------------------------- splitting

KALLELSE_1 = """1 (2)
Utskicksdatum 2021-02-01
KALLELSE
Nacka kommun, 131 81 Nacka
Kommunstyrelsens verksamhetsutskott kallas till sammanträde
Dag Tisdagen den 9 februari 2021
Föredragningslista
Nr Ärende
1. Val av justerande
2. Avveckling Hästhagens förskola
KFKS 2020/1109
Förslag till beslut
Kommunstyrelsens verksamhetsutskott beslutar att avveckla förskolan."""
KALLELSE_2 = """2 (2)
3. Information
1. Aktuellt från verksamheten
4. Övriga frågor"""
TJSKR = """2021-01-21
TJÄNSTESKRIVELSE
KFKS 2020/1109
Nacka kommun, 131 81 Nacka
Kommunstyrelsen
Avveckling Hästhagens förskola
Förslag till beslut
Kommunstyrelsens verksamhetsutskott föreslår kommunstyrelsen besluta följande.
Sammanfattning
Förskolan är byggd 1968 och har stora investeringsbehov.
1 (1)"""
BILAGA = """Bilaga 1
Risk- och konsekvensbedömning för Hästhagens förskola
Datum
1 april 2019"""


def test_split_documents_finds_kallelse_tjansteskrivelse_and_bilaga():
    docs = split_documents(pages_of(KALLELSE_1, KALLELSE_2, TJSKR, BILAGA))
    assert [(d.doc_type, d.page_start, d.page_end) for d in docs] == [
        ("kallelse", 1, 2), ("tjänsteskrivelse", 3, 3), ("bilaga", 4, 4),
    ]
    kallelse, tjskr, bilaga = docs
    assert kallelse.organ == "kommunstyrelsens verksamhetsutskott"
    assert kallelse.meeting_date == "2021-02-09" and kallelse.document_date == "2021-02-01"
    assert kallelse.municipality == "Nacka kommun"
    assert [i.number for i in kallelse.items] == ["1", "2", "3", "4"]  # "1. Aktuellt" is inside ärende 3
    assert kallelse.items[1].case_numbers == ["KFKS 2020/1109"]
    # The proposal is put to KSVU, though the letter is addressed to Kommunstyrelsen.
    assert tjskr.organ == "kommunstyrelsens verksamhetsutskott"
    assert tjskr.case_numbers == ["KFKS 2020/1109"] and tjskr.title == "Avveckling Hästhagens förskola"
    assert tjskr.meeting_date == "2021-02-09"  # packed with the kallelse: its meeting
    assert tjskr.document_date == "2021-01-21"
    assert bilaga.document_date == "2019-04-01"


def test_page_numbering_restart_starts_a_new_document():
    docs = split_documents(pages_of("1 (2)\nRapport\nText", "2 (2)\nMer text", "1 (1)\nYttrande över remissen\nText"))
    assert [(d.page_start, d.page_end) for d in docs] == [(1, 2), (3, 3)]


def test_a_cover_page_stays_with_its_document():
    docs = split_documents(pages_of("Budgetskrivelse\nför investeringar", "BUDGETSKRIVELSE 2026-03-10 SID 1 (2)\nText", "SID 2 (2)\nText"))
    assert len(docs) == 1 and docs[0].doc_type == "budgetskrivelse"
    assert docs[0].document_date == "2026-03-10"


PROTOKOLL = """1 (2)
3 juni 2019
SAMMANTRÄDESPROTOKOLL
Kommunstyrelsen
Plats och tid Nacka stadshus kl 15.00
§ 176 KFKS 2019/475
Nedläggning av Fisksätraskolan samt Fisksätraskolans
förskola
Beslut
Kommunstyrelsen beslutar om nedläggning av Fisksätraskolans skolenhet.
Ärende
Välfärd skola driver verksamhet där kvalitet och hållbar ekonomi är avgörande."""
PROTOKOLL_2 = """2 (2)
3 juni 2019
SAMMANTRÄDESPROTOKOLL
Kommunstyrelsen
Yrkanden
Mats Gerdau (M) yrkade bifall till förslaget.
Beslutsgång
Kommunstyrelsen beslutade i enlighet med Mats Gerdaus yrkande.
Reservationer
Se bilaga 1 till protokollet.
§ 177 KFKS 2019/476
Överlåtelse av Fisksätraskolan
Beslut
Kommunstyrelsen föreslår kommunfullmäktige fatta följande beslut."""


def test_protokoll_items_parts_and_decisions():
    pages = pages_of(PROTOKOLL, PROTOKOLL_2)
    (doc,) = split_documents(pages)
    assert (doc.doc_type, doc.organ, doc.meeting_date) == ("protokoll", "kommunstyrelsen", "2019-06-03")
    assert doc.case_numbers == ["KFKS 2019/475", "KFKS 2019/476"]
    first, second = doc.items
    assert (first.number, first.title) == ("176", "Nedläggning av Fisksätraskolan samt Fisksätraskolans förskola")
    assert (first.page_start, first.page_end, second.page_start) == (1, 2, 2)
    # A part over a page break is one Part per page.
    assert [(p.name, p.page) for p in first.parts] == [
        ("Beslut", 1), ("Ärendet", 1), ("Ärendet", 2), ("Yrkanden", 2), ("Beslutsgång", 2), ("Reservationer", 2),
    ]
    p1, p2 = pages
    assert passage_context(doc, 1, offset(p1, "Kommunstyrelsen beslutar om")) == ("176", "Beslut", True)
    assert passage_context(doc, 1, offset(p1, "Välfärd skola")) == ("176", "Ärendet", False)
    assert passage_context(doc, 2, offset(p2, "Mats Gerdau (M) yrkade")) == ("176", "Yrkanden", False)
    assert passage_context(doc, 2, offset(p2, "Kommunstyrelsen föreslår")) == ("177", "Beslut", True)
    assert passage_context(doc, 1, offset(p1, "Plats och tid")) == (None, None, False)


def test_proposal_in_a_tjansteskrivelse_is_not_a_decision():
    pages = pages_of(TJSKR)
    (doc,) = split_documents(pages)
    pos = offset(pages[0], "Kommunstyrelsens verksamhetsutskott föreslår")
    assert passage_context(doc, 1, pos) == (None, "Förslag till beslut", False)
    assert passage_context(doc, 1, offset(pages[0], "Förskolan är byggd")) == (None, None, False)


def test_an_extract_of_a_protocol_is_a_protokollsutdrag():
    text = "9 (93)\n13 maj 2019\nSAMMANTRÄDESPROT0l<OLL\nKommunstyrelsen\n§ 136 KFKS 2019/476\nÖverlåtelse\nBeslut\nÄrendet bordläggs."
    (doc,) = split_documents(pages_of(text))
    assert (doc.doc_type, doc.meeting_date, doc.items[0].number) == ("protokollsutdrag", "2019-05-13", "136")
    assert doc.title.startswith("Protokollsutdrag § 136")


def test_finnish_minutes_with_footer_items_and_a_stamped_bilaga():
    page1 = "Organ Personalsektionen\nSammanträdestid 28.3.2023 kl. 15.02–16.55\nNorrgård Martin, stadsdirektör och föredragande\nProtokoll 2/2023"
    page2 = (
        "NKBY/302/00.01.03.01/2022\nPersonalenkät 2022\nFörslag:\nPersonalsektionen antecknar.\n"
        "Personalsektionens beslut:\nGodkändes.\nProtokoll 28.03.2023 Sida\nPersonalsektionen\n16 §\n2"
    )
    page3 = "Bilaga Personalsektionen, 28.03.2023 § 16\nEnkätens resultat i Nykarleby stad"
    page4 = "NKBY/115/01.02.04/2023\nUppvaktningar och gåvor\nProtokoll 28.03.2023 Sida\nPersonalsektionen\n17 §\n3"
    pages = pages_of(page1, page2, page3, page4)
    docs = split_documents(pages)
    assert [(d.doc_type, d.page_start, d.page_end) for d in docs] == [
        ("protokoll", 1, 2), ("bilaga", 3, 3), ("protokoll", 4, 4),
    ]
    main, bilaga, resumed = docs
    assert (main.organ, main.meeting_date, main.municipality) == ("personalsektionen", "2023-03-28", "Nykarleby stad")
    assert main.presenters == ["Norrgård Martin"]
    assert main.items[0].number == "16" and main.items[0].case_numbers == ["NKBY/302/00.01.03.01/2022"]
    assert passage_context(main, 2, offset(pages[1], "Godkändes")) == ("16", "Beslut", True)
    assert passage_context(main, 2, offset(pages[1], "Personalsektionen antecknar")) == ("16", "Förslag till beslut", False)
    assert bilaga.organ == "personalsektionen" and bilaga.meeting_date == "2023-03-28"
    assert resumed.parent == 0 and resumed.items[0].number == "17"


def test_documents_inside_one_long_page_get_character_ranges():
    kallelse = "Kallelse\nSammanträde med:\nBeredning för nära vård\nSammanträdesdatum: 2020-11-24\n" + "Text.\n" * 1500
    pm = (
        "Tjänsteställe, handläggare Sammanträdesdatum FöredragningsPM\n"
        "Staben Hälso- och sjukvård, Ted Rylander 2020-11-24 Dnr: 20RS10323\n"
        "Rapportering av uppdrag\nFörslag till beslut\nBeredning för nära vård beslutar\natt godkänna rapporten.\n"
    )
    page = Page(number=1, text=kallelse + pm, clean=kallelse + pm)
    docs = split_documents([page])
    assert [d.doc_type for d in docs] == ["kallelse", "tjänsteskrivelse"]
    assert docs[0].char_end <= docs[1].char_start == len(kallelse)
    assert (docs[1].case_numbers, docs[1].meeting_date) == (["20RS10323"], "2020-11-24")
    pos = page.clean.index("att godkänna")
    assert passage_context(docs[1], 1, pos) == (None, "Förslag till beslut", False)


# ---------------------------------------------------------------- real records


def real_documents(relpath: str):
    path = CORPUS / relpath
    if not path.exists():
        pytest.skip(f"{relpath} is not in the shared corpus")
    f = extract_file(path, CORPUS)
    pages = clean_pages(f.pages)
    return split_documents(pages), pages


def item(docs, number: str):
    return next(it for d in docs for it in d.items if it.number == number)


def test_fisksatraskolan_tjansteskrivelse():
    docs, pages = real_documents(
        "nacka/Kommunstyrelsen_2019_KS_2019-05-13_37_Fisksatraskolan_nedlaggning_37_a_tjskr_fisksatraskolan_nedlaggning.pdf"
    )
    doc = docs[0]
    assert (doc.doc_type, doc.organ, doc.document_date) == ("tjänsteskrivelse", "kommunstyrelsen", "2019-05-13")
    assert doc.case_numbers == ["KFKS 2019/475"] and doc.municipality == "Nacka kommun"
    pos = pages[0].clean.index("Kommunstyrelsen beslutar om nedläggning")
    assert passage_context(doc, 1, pos) == (None, "Förslag till beslut", False)


def test_fisksatraskolan_protokollsutdrag_135():
    docs, pages = real_documents(
        "nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf"
    )
    (doc,) = docs
    assert (doc.doc_type, doc.organ, doc.meeting_date) == ("protokollsutdrag", "kommunstyrelsen", "2019-05-13")
    assert item(docs, "135").case_numbers == ["KFKS 2019/475"]
    pos = pages[0].clean.index("Kommunstyrelsen beslutar att ärendet bordläggs")
    assert passage_context(doc, 1, pos) == ("135", "Beslut", True)


def test_fisksatraskolan_protokoll_176_and_its_bilaga():
    docs, pages = real_documents("nacka/Kommunstyrelsen_2019_KS_2019-06-03_00_KS_190603_Protokoll.pdf")
    doc = docs[0]
    assert (doc.doc_type, doc.meeting_date) == ("protokoll", "2019-06-03")
    it = item(docs, "176")
    assert it.case_numbers == ["KFKS 2019/475"] and (it.page_start, it.page_end) == (13, 14)
    assert item(docs, "177").case_numbers == ["KFKS 2019/476"]
    page13 = pages[12]
    assert passage_context(doc, 13, page13.clean.index("Kommunstyrelsen beslutar om nedläggning")) == ("176", "Beslut", True)

    bilagor, _ = real_documents(
        "nacka/Kommunstyrelsen_2019_KS_2019-06-03_00_ks_190603_Protokollsbilaga_1__176_Nedlaggning_fisksatraskola.pdf"
    )
    bilaga = bilagor[0]
    assert (bilaga.doc_type, bilaga.organ, bilaga.meeting_date) == ("protokollsbilaga", "kommunstyrelsen", "2019-06-03")
    assert item(bilagor, "176").case_numbers == ["KFKS 2019/475"]
    assert "Reservationer" in [p.name for p in item(bilagor, "176").parts]


@pytest.mark.parametrize(
    "relpath",
    [
        "nacka/Kommunstyrelsen_2019_KS_2019-05-13_38_Fisksatraskolan_overlatelse_38_a_tjskr_fisksatra_overlatelse_fastighet.pdf",
        "nacka/Kommunstyrelsen_2019_KS_2019-06-03_05_Fisksatraskolan_overlatelse_05a_overlatelse_fisksatra_protokollsutdrag_KS_136.pdf",
        "nacka/Kommunstyrelsen_2019_KS_2019-06-03_00_ks_190603_Protokollsbilaga_2__177_overlatelse_fisksatraskola.pdf",
    ],
)
def test_fisksatraskolan_overlatelse_is_kfks_2019_476(relpath):
    docs, _ = real_documents(relpath)
    assert "KFKS 2019/476" in docs[0].case_numbers
    assert "KFKS 2019/475" not in docs[0].case_numbers


def test_aterrapportering_30_maj_is_2023_05_30():
    docs, pages = real_documents("region-orebro/2023_aterrapportering_beredning_for_nara_vard.md")
    doc = docs[0]
    assert (doc.doc_type, doc.organ, doc.municipality) == ("återrapportering", "beredning för nära vård", "Region Örebro län")
    text = pages[0].clean
    start = text.index("Vid beredningens sammanträde den 30 maj")
    assert resolve_dates(text[start:start + 60], 2023)[0] == "2023-05-30"
    assert "2023-05-30" in resolve_dates(text, 2023)


def test_region_kallelse_carries_its_foredragnings_pm():
    docs, _ = real_documents(
        "region-orebro/2020-11-24_kallelse_beredning_somatisk_specialistvard_och_hogspecialiserad_vard.txt"
    )
    kallelse = docs[0]
    assert (kallelse.doc_type, kallelse.meeting_date) == ("kallelse", "2020-11-24")
    assert kallelse.organ == "beredning för somatisk specialistvård och högspecialiserad vård"
    assert item(docs[:1], "4").case_numbers == ["20RS10323"]
    assert "Gustav Ekbäck" in kallelse.presenters
    assert len(docs) >= 3 and docs[1].doc_type == "tjänsteskrivelse" and docs[1].case_numbers == ["20RS10323"]
    assert all(d.page_start == d.page_end == 1 for d in docs)
    assert all(a.char_end <= b.char_start for a, b in zip(docs, docs[1:]))


def test_kungsbacka_agenda_titles_stop_at_the_time_slot_and_the_case_column():
    """Real kallelse: a table cell holds title, time slot and presenters; a line
    laid out in columns holds title, case number and the proposal."""
    path = Path(__file__).resolve().parents[1] / "corpus" / "kungsbacka" / "kungsbacka_ks_2025-05-27_kallelse.md"
    doc = split_documents(clean_pages(extract_file(path, path.parent).pages))[0]
    items = {it.number: it for it in doc.items}
    assert items["2"].title == "Uppföljning och prognos april 2025 för Kungsbacka kommun"
    assert items["2"].presenters == ["Somayeh Jamshidi", "Christina Hermansson"]
    assert items["3"].title == "Kommunbudget 2026, plan" and items["3"].case_numbers[0] == "2024-00717"
    assert items["1"].presenters == []
    assert {"Somayeh Jamshidi", "Christina Hermansson"} <= set(doc.presenters)  # the kallelse lists who presents
