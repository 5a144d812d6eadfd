import numpy as np

from sok.store.lexical import Bm25sIndex, LexicalIndex, TantivyIndex, tokenize

CASES = ["Ärende KFKS 2019/476 om fastigheten", "Ärende KFKS 2019/475 om nedläggning", "Ingenting relevant här"]


def test_swedish_stemming_and_stop_words():
    assert set(tokenize("förskolorna")) == set(tokenize("förskola"))
    assert tokenize("Beredningen") == tokenize("beredning")
    assert "och" not in tokenize("skola och förskola")


def test_identifiers_stay_whole_and_exact():
    toks = tokenize("KFKS 2019/475 och KS-2025-00970, 20RS10323 samt 1177")
    for t in ["2019/475", "ks-2025-00970", "20rs10323", "1177", "kfks", "475"]:
        assert t in toks


def test_bm25_ranks_exact_case_number_first(tmp_path):
    assert LexicalIndex is TantivyIndex
    TantivyIndex.build([10, 11, 12], CASES, folder=tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert sorted(loaded.ids.tolist()) == [10, 11, 12]
    hits = loaded.search("KFKS 2019/475", k=3)
    assert hits[0][0] == 11
    assert 12 not in [h[0] for h in hits]
    mask = np.isin(loaded.ids, [10, 12])
    assert [h[0] for h in loaded.search("KFKS 2019/475", k=3, mask=mask)] == [10]
    assert [h[0] for h in loaded.search("KFKS 2019/475", k=3, allowed=np.array([12, 11]))] == [11]
    assert loaded.search("KFKS 2019/475", k=3, allowed=np.array([], dtype=np.int64)) == []
    assert loaded.search("KFKS 2019/475", k=3, allowed=np.array([12])) == []
    assert loaded.search("xyzzy", k=3) == []
    assert loaded.search("", k=3) == [] and loaded.search("och", k=3) == []


def test_stemmed_forms_and_query_syntax_are_plain_terms(tmp_path):
    index = TantivyIndex.build([1, 2], ["Förskolorna i Nacka byggs ut", "Beredningen av ärendet"])
    assert [h[0] for h in index.search("förskola", k=5)] == [1]
    assert [h[0] for h in index.search("beredning", k=5)] == [2]
    # Characters the tantivy query parser would choke on are just text here.
    assert [h[0] for h in index.search('förskola AND (nacka OR "x" field:y) ~2 ^3', k=5)][0] == 1


def test_idf_follows_document_frequency():
    index = TantivyIndex.build([1, 2, 3], ["snöröjning av vägar", "vägar och gator", "vägar i kommunen"])
    assert index.idf("snöröjning") > index.idf("väg") > 0
    assert index.idf("finnsinte") > index.idf("snöröjning")


def test_adds_and_deletes_in_place(tmp_path):
    index = TantivyIndex.build([1, 2], ["badhus i centrum", "skolskjuts utökas"], folder=tmp_path / "lex")
    reader = TantivyIndex.open(tmp_path / "lex")
    index.apply(adds=[(3, "nytt badhus vid sjön", 7), (2, "skolskjuts dras in", 8)], deletes=[1])
    assert sorted(index.ids.tolist()) == [2, 3]
    assert [h[0] for h in index.search("badhus", k=5)] == [3]
    ids, keys = index.entries()
    assert dict(zip(ids.tolist(), keys.tolist()))[2] == 8  # replaced, not duplicated
    # A reader opened before the commit keeps its snapshot until it reloads.
    assert sorted(reader.ids.tolist()) == [1, 2] and [h[0] for h in reader.search("badhus", k=5)] == [1]
    reader.reload()
    assert sorted(reader.ids.tolist()) == [2, 3]


def test_tantivy_and_bm25s_agree_on_the_top_hit():
    texts = CASES + ["Förskolan Skogsgläntan läggs ned", "Budget för förskolor och skolor 2024"]
    ids = list(range(len(texts)))
    a, b = TantivyIndex.build(ids, texts), Bm25sIndex.build(ids, texts)
    for q in ["KFKS 2019/475", "förskola nedläggning", "budget skolor"]:
        assert a.search(q, 1)[0][0] == b.search(q, 1)[0][0]
