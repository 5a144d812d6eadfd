from sok.query.cases import case, case_numbers, decision_text
from sok.store.db import Store


def test_case_lists_documents_and_paragraphs_in_date_order(real_index):
    store = Store(real_index[0])
    entries = case(store, "KFKS 2019/475")
    assert entries and entries[0].doc_type == "protokollsutdrag" and entries[0].item == "§ 135"
    assert entries[0].date == "2019-05-13" and entries[0].page_start == 1
    assert entries[0].decision.startswith("Kommunstyrelsen beslutar att ärendet bordläggs")
    assert "Ärendet" not in entries[0].decision
    assert case(store, "KFKS 1999/1") == []
    assert "KFKS 2019/475" in dict(case_numbers(store))


def test_a_case_number_typed_without_its_series_finds_the_case(real_index):
    """Kungsbacka's agendas write "2026-00174" for "KS-2026-00174"."""
    store = Store(real_index[0])
    full = case(store, "KS-2026-00174")
    assert full and [e.item for e in case(store, "2026-00174")] == [e.item for e in full]
    assert case(store, "2026-99999") == []


def test_decision_text_stops_at_the_next_section():
    text = "§ 176 KFKS 2019/475\nNedläggning\nBeslut\nKommunstyrelsen beslutar om nedläggning.\nÄrendet\nBakgrund här."
    assert decision_text(text) == "Kommunstyrelsen beslutar om nedläggning."
    assert decision_text("Kommunstyrelsens beslut\nMotionen avslås.\nYrkanden\nx") == "Motionen avslås."
    assert decision_text("Inget beslut här.") is None
