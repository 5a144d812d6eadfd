import json

from sok.ui.cli import main


def test_search_json_and_status(real_index, capsys):
    index_dir = str(real_index[0])
    assert main(["--index", index_dir, "search", "KFKS 2019/475", "-k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hits"][0]["file"].endswith("KS_135.pdf") and out["hits"][0]["page_start"] == 1

    assert main(["--index", index_dir, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["files"] == 3 and status["model"] == "multilingual-e5-small-q4" and status["last_run"]["new"] + status["last_run"]["unchanged"] == 3  # the index is shared by several tests


def test_plain_search_marks_terms(real_index, capsys):
    assert main(["--index", str(real_index[0]), "search", "Studor", "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "**Studor**" in out and "s. " in out


def test_index_without_folder_on_empty_index_says_what_to_do(tmp_path, capsys):
    assert main(["--index", str(tmp_path / "nytt"), "index"]) == 2
    assert "sok index corpus" in capsys.readouterr().err


def test_search_without_index_is_a_swedish_error(tmp_path, capsys):
    assert main(["--index", str(tmp_path / "saknas"), "search", "SIP"]) == 2
    assert "Kör först" in capsys.readouterr().err


def test_index_reports_failures_by_name(tmp_path, capsys):
    folder = tmp_path / "mapp"
    folder.mkdir()
    (folder / "tom.pdf").write_bytes(b"")
    assert main(["--index", str(tmp_path / "idx"), "index", str(folder), "-q"]) == 1
    captured = capsys.readouterr()
    assert "tom.pdf" in captured.err and "tom" in captured.err and "1 misslyckade" in captured.out
