"""sok.ingest.linking: the meeting that handled a document, found through the case
number a meeting record lists. Real Nacka records pin the rule; small
synthetic references pin each condition."""

from __future__ import annotations

from pathlib import Path

import pytest

from sok.ingest.clean import clean_pages
from sok.ingest.extract import extract_file
from sok.ingest.linking import DocRef, handled_at
from sok.ingest.meeting import split_documents

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "nacka"
TJSKR = "Kommunstyrelsens_verksamhetsutskott_2018_2018-02-06_06_Nedlaggning_Skogsglantans_forskola_06a_Nedlaggning_Skogsglantans_forskola_tjskr.pdf"
PROTOKOLL = "Kommunstyrelsens_verksamhetsutskott_2018_2018-02-06_00_Protokoll_KSVU_2018-02-06.pdf"
LATER = "Kommunstyrelsens_verksamhetsutskott_2018_2018-03-20_00_Protokoll_KSVU_2018-03-20.pdf"


def refs_of(paths: list[Path]) -> list[DocRef]:
    out = []
    for path in paths:
        for d in split_documents(clean_pages(extract_file(path, path.parent).pages)):
            out.append(DocRef(len(out), d.doc_type, d.organ, d.meeting_date, d.document_date, tuple(d.case_numbers)))
    return out


@pytest.mark.skipif(not (SHARED / TJSKR).exists(), reason="../shared/corpus saknas")
def test_a_tjansteskrivelse_is_linked_to_the_meeting_whose_protokoll_lists_its_case():
    refs = refs_of([SHARED / TJSKR, SHARED / PROTOKOLL, SHARED / LATER])
    tjskr = refs[0]
    assert (tjskr.doc_type, tjskr.meeting_date, tjskr.document_date) == ("tjänsteskrivelse", None, "2018-01-22")
    assert "KFKS 2018/53" in tjskr.case_numbers
    link = handled_at(refs)[tjskr.key]
    assert (link.date, link.organ, link.case_number) == ("2018-02-06", "kommunstyrelsens verksamhetsutskott", "KFKS 2018/53")
    # the protokoll states its own date and is never linked
    assert all(r.key not in handled_at(refs) for r in refs if r.doc_type == "protokoll")


def ref(key, doc_type, organ=None, meeting=None, own=None, cases=("KFKS 2018/53",)) -> DocRef:
    return DocRef(key, doc_type, organ, meeting, own, tuple(cases))


def test_the_earliest_meeting_on_or_after_the_documents_own_date_wins():
    refs = [
        ref(0, "tjänsteskrivelse", "kommunstyrelsen", own="2019-05-01"),
        ref(1, "protokoll", "kommunstyrelsen", meeting="2019-06-03"),
        ref(2, "protokollsutdrag", "kommunstyrelsen", meeting="2019-05-13"),
        ref(3, "protokoll", "kommunstyrelsen", meeting="2019-04-01"),  # before the document was written
    ]
    assert handled_at(refs)[0].meeting_key == 2


def test_another_organ_a_lone_year_gap_or_no_shared_case_gives_no_link():
    base = ref(0, "tjänsteskrivelse", "kommunstyrelsens verksamhetsutskott", own="2019-05-01")
    assert handled_at([base, ref(1, "protokoll", "utbildningsnämnden", meeting="2019-05-14")]) == {}
    assert handled_at([base, ref(1, "protokoll", "kommunstyrelsens verksamhetsutskott", meeting="2021-05-14")]) == {}
    assert handled_at([base, ref(1, "protokoll", "kommunstyrelsens verksamhetsutskott", meeting="2019-05-14",
                                 cases=("KFKS 2018/54",))]) == {}


def test_a_bilaga_without_organ_takes_the_organ_of_the_meeting():
    refs = [ref(0, "bilaga", None, own="2018-11-19"), ref(1, "protokoll", "kommunstyrelsens verksamhetsutskott", meeting="2018-12-18")]
    assert handled_at(refs)[0].organ == "kommunstyrelsens verksamhetsutskott"
