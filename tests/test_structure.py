from sok.structure import find_date, find_title


def test_labelled_meeting_date_wins():
    text = "Kallelse\nUtskickad 2020-11-10\nSammanträdesdatum: 2020-11-24\n"
    assert find_date(text) == "2020-11-24"


def test_dates_in_words_and_finnish_style():
    assert find_date("Protokoll fört vid sammanträde den 13 maj 2019") == "2019-05-13"
    assert find_date("Protokoll 28.03.2023 Sida 1") == "2023-03-28"
    assert find_date("Inget datum här") is None


def test_title_prefers_markdown_heading_then_a_title_like_line():
    assert find_title("intro\n# Återrapportering 2023\ntext", "fil") == "Återrapportering 2023"
    assert find_title("www.nacka.se\n3 (12)\nNedläggning av Skogsgläntans förskola\n", "fil") == "Nedläggning av Skogsgläntans förskola"
    assert find_title("12\n", "reservnamn") == "reservnamn"
