"""The read-only HTTP API (ui/api.py), served by `sok api` itself on
127.0.0.1 and called over real HTTP: the SIP answer with the same sources as
`sok ask --json`, pages, bounded inputs with Swedish 4xx, and every
operation of its OpenAPI document fuzzed (schemathesis) without a 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from conftest import ROOT, free_port

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis saknas; installera testberoendena")
from hypothesis import HealthCheck, settings  # noqa: E402 (comes with schemathesis)

SIP = "Vad rapporterades om SIP?"


@pytest.fixture(scope="module")
def api(real_index):
    index_dir, _ = real_index
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "sok", "api", "--index", str(index_dir), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/openapi.json", timeout=5):
                break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "API:t startade inte"
            time.sleep(0.3)
    try:
        yield url, index_dir
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def get(url: str, path: str, **params) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(f"{url}{path}?{urlencode(params, doseq=True)}", timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_the_sip_answer_has_the_sources_of_sok_ask(api, capsys):
    from sok.ui.cli import main

    url, index_dir = api
    status, answer = get(url, "/api/fraga", q=SIP)
    assert status == 200 and not answer["no_answer"] and "SIP" in answer["text"]
    assert main(["ask", SIP, "--json", "--index", str(index_dir)]) == 0
    local = json.loads(capsys.readouterr().out)
    cited = lambda a: [(s["file"], s["page_start"], s["page_end"]) for s in a["sources"]]  # noqa: E731
    assert cited(answer) == cited(local) and cited(answer)


def test_search_pages_and_bounded_inputs(api):
    url, _ = api
    status, first = get(url, "/api/sok", q="Fisksätraskolan nedläggning", per_sida=2, alla="true")
    assert status == 200 and len(first["traffar"]) == 2 and first["fler"]
    status, second = get(url, "/api/sok", q="Fisksätraskolan nedläggning", per_sida=2, sida=2, alla="true")
    assert status == 200 and {h["passage_id"] for h in second["traffar"]}.isdisjoint(
        h["passage_id"] for h in first["traffar"])
    assert all({"file", "page_start", "page_end", "date", "organ", "item"} <= set(h) for h in first["traffar"])
    assert get(url, "/api/sok", q="x" * 5000)[0] == 422  # longer than a query may be
    assert get(url, "/api/sok", q="SIP", per_sida=500)[0] == 422
    status, body = get(url, "/api/ledamot")
    assert status == 400 and body["detail"] == "ange namn eller parti"
    status, body = get(url, "/api/bevakningar/nytt", namn="okänd")
    assert status == 404 and "ingen bevakning heter 'okänd'" in body["detail"]
    status, record = get(url, "/api/ledamot", namn="Mats Gerdau")
    assert status == 200 and record[0]["item"] == "§ 135"


def test_no_operation_answers_with_a_server_error(api):
    """Every operation of the API's own OpenAPI document, 25 generated
    requests each (schemathesis over hypothesis), over HTTP: none is a 5xx."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{api[0]}/api/openapi.json")
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(operation.path)

        @given(operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case):
            response = case.call(timeout=60)
            assert response.status_code < 500, (case.path, case.query, response.text[:300])

        no_server_error()
    assert {"/api/sok", "/api/fraga", "/api/arende", "/api/dokument", "/api/bevakningar/nytt"} <= set(seen)
