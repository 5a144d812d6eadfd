"""sok.language: dates as records write them, case numbers in every form the
corpus uses, organ names. The query side reads questions with these and the
indexing side reads documents with them, so both agree."""

from __future__ import annotations

import pytest

from sok.language import (
    complete_case_numbers,
    find_case_numbers,
    normalize_case_number,
    normalize_organ,
    resolve_dates,
    toc_share,
)

# ---------------------------------------------------------------- dates


def test_resolve_dates_uses_the_document_year_for_day_and_month():
    text = "Föredragning vid beredningens sammanträde den 30 maj och den 20 september."
    assert resolve_dates(text, 2023) == ["2023-05-30", "2023-09-20"]


def test_resolve_dates_reads_every_written_form_in_order():
    text = "Beslut den 3 juni 2019, justerat 2019-06-05; i Nykarleby 13.3.2023."
    assert resolve_dates(text, None) == ["2019-06-03", "2019-06-05", "2023-03-13"]


def test_resolve_dates_does_not_guess_a_missing_year_or_invent_dates():
    assert resolve_dates("sammanträdet den 30 maj", None) == []
    assert resolve_dates("den 31 februari 2020 och 2027-2031", 2020) == []


# ---------------------------------------------------------------- case numbers


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("KFKS 2019/475", "KFKS 2019/475"),
        ("kfks2019/475", "KFKS 2019/475"),
        ("Dnr: 20RS10323", "20RS10323"),
        ("Dnr 2023/314", "2023/314"),
        ("Diarienummer VN-2025-00008", "VN-2025-00008"),
        ("  KS-2025-00970 ", "KS-2025-00970"),
        ("NKBY/482/01.01.01.07/2022", "NKBY/482/01.01.01.07/2022"),
    ],
)
def test_normalize_case_number(raw, expected):
    assert normalize_case_number(raw) == expected


def test_find_case_numbers_in_every_corpus_form():
    text = (
        "§ 176 KFKS 2019/475\nDiarienummer: 20RS10323 Föredragande: Ted Rylander\n"
        "Diarienummer\nKS-2025-00970\n§ 68 Dnr 2023/314\nNKBY/482/01.01.01.07/2022\n"
        "| 3. | Underlag | 2025-00008 |\nDnr 2024-00134"
    )
    assert find_case_numbers(text) == [
        "KFKS 2019/475", "20RS10323", "KS-2025-00970", "2023/314",
        "NKBY/482/01.01.01.07/2022", "2025-00008", "2024-00134",
    ]


def test_a_bare_number_takes_the_series_its_file_writes_in_full():
    known = {"VN-2024-00056", "VN-2024-00057", "KS-2024-00134", "BN-2024-00134", "2025-00008"}
    assert complete_case_numbers(["2024-00056", "2025-00008"], known) == ["VN-2024-00056", "2025-00008"]
    assert complete_case_numbers(["2024-00134"], known) == ["2024-00134"]  # two series share the digits: left as written
    assert complete_case_numbers(["2024-00056", "VN-2024-00056"], known) == ["VN-2024-00056"]
    assert complete_case_numbers(["KFKS 2019/475"], {"KFKS 2019/475"}) == ["KFKS 2019/475"]


def test_find_case_numbers_skips_periods_companies_and_dates():
    text = "Plan 2019/2020, Österlen VA AB 2023/314 och SOU 2019/7, sammanträde 2024-04-25."
    assert find_case_numbers(text) == []


# ---------------------------------------------------------------- organs


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Valnämnd", "valnämnden"),
        ("Kommunstyrelsens verksamhetsutskott kallas till sammanträde", "kommunstyrelsens verksamhetsutskott"),
        ("KSVU", "kommunstyrelsens verksamhetsutskott"),
        ("Beredning för nära vård 2023", "beredning för nära vård"),
        ("Nämnden för Förskola & Grundskola", "nämnden för förskola & grundskola"),
    ],
)
def test_normalize_organ(raw, expected):
    assert normalize_organ(raw) == expected


def test_toc_share_counts_the_index_lines_of_an_agenda():
    agenda = ("Mötesuppgifter ........................................ 1\n"
              "§ 190 Val av protokolljusterare ...................... 3\n"
              "§ 198 Ändring av befattningsbenämning . . . . . . . . 46\n"
              "Stadsstyrelsen 26.9.2022")
    assert toc_share(agenda) == 0.75
    assert toc_share("Stadsstyrelsen beslutar att ändra befattningsbenämningen.\nBeslutet justeras omedelbart.") == 0.0
    assert toc_share("") == 0.0
