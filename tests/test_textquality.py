"""sok.ingest.textquality: broken text layers (fonts that lose ligatures) found and
repaired, on a real Nykarleby page; intact Swedish left alone."""

from __future__ import annotations

from pathlib import Path

from sok.ingest.clean import clean_pages
from sok.ingest.textquality import file_is_broken, page_quality, repair_text, repaired_word
from sok.records import Page

DATA = Path(__file__).parent / "data"
BROKEN = (DATA / "nykarleby_personalsektionen_2023-03-28_s7.txt").read_text(encoding="utf-8")


def test_each_kind_of_lost_ligature_is_undone():
    assert repaired_word("at") == "att"  # tt
    assert repaired_word("Personalsektonen") == "Personalsektionen"  # ti, capital kept
    assert repaired_word("fnns") == "finns"  # fi
    assert repaired_word("ffr") == "för"  # ö read as f
    assert repaired_word("efektva") == "effektiva"  # two losses in one word
    assert repaired_word("utorma") == "utforma"  # tf


def test_intact_words_are_never_changed():
    for word in ("att", "till", "detta", "finns", "Nykarleby", "protokoll", "fortsatt", "Kristina", "Fisksätra", "KFKS", "UFM"):
        assert repaired_word(word) is None


def test_the_real_broken_page_is_detected_and_repaired():
    quality = page_quality(BROKEN)
    assert quality.broken and quality.share > 0.05
    fixed, n = repair_text(BROKEN)
    assert n >= 10
    assert "Personalsektionen antecknar ärendet för kännedom" in fixed
    assert "Stadsdirektör Martin Norrgårds förslag" in fixed
    assert "personalchef Kristna Wikblad" in fixed  # "kristna" is a word: not certain, left alone


def test_normal_swedish_records_are_not_broken_and_clean_leaves_them_alone():
    """Every file of the demo corpus: Nacka (with pages full of KFKS case numbers), Region Örebro, Kungsbacka."""
    from sok.ingest.extract import extract_file, find_files

    demo = Path(__file__).resolve().parents[1] / "corpus"
    files = find_files(demo)
    assert len(files) >= 15
    for path in files:
        pages = clean_pages(extract_file(path, demo).pages)
        assert not file_is_broken([p.clean for p in pages]), path.name
        assert all(p.repaired == 0 for p in pages), path.name


def test_clean_repairs_every_page_of_a_broken_file_and_counts_the_words():
    pages = clean_pages([Page(1, BROKEN), Page(2, "Beslutet fatades at tll sammanträdet.")])
    assert pages[0].repaired >= 10
    assert "möjlighet att utforma de tre valbara" in pages[0].clean  # after the line-break hyphen is joined
    assert pages[0].text == BROKEN  # the original stays for display
    assert pages[1].clean == "Beslutet fattades att till sammanträdet."  # short page, repaired with its file
    assert pages[1].repaired == 3
