import numpy as np

from sok.lexical import LexicalIndex, tokenize


def test_swedish_stemming_and_stop_words():
    assert set(tokenize("förskolorna")) == set(tokenize("förskola"))
    assert tokenize("Beredningen") == tokenize("beredning")
    assert "och" not in tokenize("skola och förskola")


def test_identifiers_stay_whole_and_exact():
    toks = tokenize("KFKS 2019/475 och KS-2025-00970, 20RS10323 samt 1177")
    for t in ["2019/475", "ks-2025-00970", "20rs10323", "1177", "kfks", "475"]:
        assert t in toks


def test_bm25_ranks_exact_case_number_first(tmp_path):
    ids = [10, 11, 12]
    texts = ["Ärende KFKS 2019/476 om fastigheten", "Ärende KFKS 2019/475 om nedläggning", "Ingenting relevant här"]
    index = LexicalIndex.build(ids, texts)
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    hits = loaded.search("KFKS 2019/475", k=3)
    assert hits[0][0] == 11
    assert 12 not in [h[0] for h in hits]
    mask = np.array([True, False, True])
    assert [h[0] for h in loaded.search("KFKS 2019/475", k=3, mask=mask)] == [10]
    assert loaded.search("xyzzy", k=3) == []
