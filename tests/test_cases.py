from sok.cases import case, case_numbers
from sok.store import Store


def test_case_lists_documents_and_paragraphs_in_date_order(real_index):
    store = Store(real_index[0])
    entries = case(store, "KFKS 2019/475")
    assert entries and entries[0].doc_type == "protokollsutdrag" and entries[0].item == "§ 135"
    assert entries[0].date == "2019-05-13" and entries[0].page_start == 1
    assert case(store, "KFKS 1999/1") == []
    assert "KFKS 2019/475" in dict(case_numbers(store))
