from sok.config import ChunkConfig
from sok.ingest.chunking import chunk_pages, heading_level
from sok.ingest.clean import clean_pages
from sok.records import Page


def _words(n: int, word: str = "ord") -> str:
    return " ".join(f"{word}{i}." if i % 12 == 11 else f"{word}{i}" for i in range(n))


def test_heading_detection():
    assert heading_level("## 2. Återrapportering")[0] == 2
    assert heading_level("§ 135 KFKS 2019/475")[0] == 2
    assert heading_level("Beslut")[0] == 5
    assert heading_level("Förslag till beslut:")[0] == 5
    assert heading_level("§ 1 KFKS 2021/1 ........................ 4") == (0, "")
    assert heading_level("Det här är en vanlig mening som inte är en rubrik.") == (0, "")


def test_passages_follow_sections_and_carry_heading_path():
    text = "# Protokoll\n\n§ 1 Val av justerare\n" + _words(60, "a") + "\n\n§ 2 Budget\nBeslut\n" + _words(80, "b")
    pages = clean_pages([Page(1, text)])
    passages = chunk_pages(pages)
    assert len(passages) == 2
    assert passages[0].text.startswith("# Protokoll") and "a0" in passages[0].text and "b0" not in passages[0].text
    assert passages[1].text.startswith("§ 2 Budget")
    assert passages[1].heading_path == ["Protokoll", "§ 2 Budget", "Beslut"]


def test_sizes_stay_within_bounds_and_offsets_slice_the_clean_text():
    cfg = ChunkConfig(target_words=100, max_words=150, min_words=30)
    pages = clean_pages([Page(1, _words(500)), Page(2, _words(260, "x"))])
    passages = chunk_pages(pages, cfg)
    assert all(len(p.text.split()) <= cfg.max_words for p in passages)
    assert sum(len(p.text.split()) for p in passages) == 760
    for p in passages:
        if p.page_start == p.page_end:
            assert pages[p.page_start - 1].clean[p.char_start:p.char_end] == p.text


def test_paragraph_across_a_page_break_keeps_both_pages():
    pages = clean_pages([Page(1, "§ 3 Ärende\n" + _words(50)), Page(2, _words(40, "y"))])
    passages = chunk_pages(pages)
    assert (passages[0].page_start, passages[-1].page_end) == (1, 2)
    assert any(p.page_start == 1 and p.page_end == 2 for p in passages)


def test_bare_paragraph_line_takes_the_title_after_it():
    text = "§ 154 KFKS 2019/95\nMotion - Tiggeriförbud i Nacka\nBeslut\n" + _words(60) + "\nBeslutsgång\n" + _words(150, "z")
    passages = chunk_pages(clean_pages([Page(1, text)]))
    assert passages[0].heading_path[0] == "§ 154 KFKS 2019/95 Motion - Tiggeriförbud i Nacka"
    assert passages[-1].heading_path == ["§ 154 KFKS 2019/95 Motion - Tiggeriförbud i Nacka", "Beslutsgång"]


def test_windows_keep_whole_sentences_and_cover_the_passage():
    from sok.ingest.chunking import windows

    sentences = [f"Mening nummer {i} handlar om " + "ord " * (5 + i % 7) + "slut." for i in range(30)]
    text = " ".join(sentences)
    out = windows(text)
    assert len(out) > 1 and all(len(w.split()) <= 50 for w in out)
    assert " ".join(out).split() == text.split()  # nothing lost, nothing repeated
    assert all(w.endswith("slut.") for w in out)  # cut between sentences
    long = "ord " * 130
    assert [len(w.split()) for w in windows(long)] == [50, 50, 30]
    assert windows("") == []
