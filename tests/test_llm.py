"""The optional generated answer, against a small local server that speaks the
OpenAI chat completions API (started by the test, on 127.0.0.1 only)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sok.query.answer import ask
from sok.query.llm import check, endpoint
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


def test_generated_answer_is_used_when_every_sentence_cites(real_index, server):
    server.reply = "Beredningen fick information om SIP den 30 maj och den 20 september 2023 [1]."
    answer = ask(Searcher(real_index[0]), "Vad rapporterades om SIP?", llm_url=server.url, llm_model="test")
    assert answer.method == "llm" and answer.sentences[0].citations == [1]
    path, body = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "test"
    assert "[1]" in body["messages"][1]["content"] and "SIP" in body["messages"][1]["content"]


@pytest.mark.parametrize("reply, reason", [
    ("Beredningen fick information om SIP. Ingen källa här.", "saknar källhänvisning"),
    ("Beredningen fick information om SIP [42].", "pekar inte"),
])
def test_unchecked_generated_answer_falls_back_to_extracts(real_index, server, reply, reason):
    server.reply = reply
    answer = ask(Searcher(real_index[0]), "Vad rapporterades om SIP?", llm_url=server.url)
    assert answer.method == "extractive" and answer.sentences and reason in answer.note


def test_unreachable_endpoint_falls_back(real_index):
    answer = ask(Searcher(real_index[0]), "Vad rapporterades om SIP?", llm_url="http://127.0.0.1:9")
    assert answer.method == "extractive" and "svarade inte" in answer.note
