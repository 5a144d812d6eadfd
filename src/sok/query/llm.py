"""An optional generated answer from an OpenAI-compatible chat endpoint the
user runs (llama.cpp server, Ollama, vLLM or a hosted one). The model sees
only the numbered passages; its answer is accepted only if every sentence
cites an existing source, so a generated line can never stand unsourced."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from sok.config import AnswerConfig
from sok.records import NO_ANSWER, Answer, Hit, Sentence, source_of

_CITATION = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?\]])\s+(?=[A-ZÅÄÖ0-9\"”])")

SYSTEM = (
    "Du besvarar frågor om kommunala och regionala nämndhandlingar. Svara på svenska, kort, "
    "enbart utifrån de numrerade källorna. Varje mening ska sluta med en hänvisning till källan "
    "den bygger på, till exempel [1] eller [2][3]. Ordna uppgifterna efter sammanträdesdatum, äldst först. "
    "Om källorna inte besvarar frågan, svara exakt: Inget i materialet besvarar frågan."
)


def endpoint(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


def prompt(question: str, hits: list[Hit]) -> str:
    blocks = [f"[{i}] {h.title} ({h.date or 'datum okänt'}, {h.pages_label})\n{h.text}" for i, h in enumerate(hits, 1)]
    return "Källor:\n\n" + "\n\n".join(blocks) + f"\n\nFråga: {question}"


def complete(url: str, model: str | None, question: str, hits: list[Hit], timeout: float) -> str:
    body = {
        "model": model or "default",
        "temperature": 0,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt(question, hits)}],
    }
    req = urllib.request.Request(endpoint(url), data=json.dumps(body).encode("utf-8"),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data = json.loads(resp.read().decode("utf-8"))
    return data["choices"][0]["message"]["content"].strip()


def check(text: str, n_sources: int) -> tuple[list[tuple[str, list[int]]] | None, str]:
    """(sentences with their citations, "") when every sentence cites an
    existing source; (None, reason in Swedish) otherwise."""
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]
    if not sentences:
        return None, "svaret var tomt"
    out = []
    for s in sentences:
        cited = [int(n) for n in _CITATION.findall(s)]
        if not cited:
            return None, f"meningen \"{s[:60]}\" saknar källhänvisning"
        bad = [n for n in cited if not 1 <= n <= n_sources]
        if bad:
            return None, f"hänvisningen [{bad[0]}] pekar inte på någon källa"
        out.append((_CITATION.sub("", s).strip(), list(dict.fromkeys(cited))))
    return out, ""


def generated_answer(url: str, model: str | None, question: str, hits: list[Hit], cfg: AnswerConfig):
    """(Answer, "") or (None, why it was set aside)."""
    try:
        text = complete(url, model, question, hits, cfg.llm_timeout)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, f"tjänsten på {url} svarade inte ({exc})"
    except (KeyError, IndexError, ValueError) as exc:
        return None, f"tjänsten gav ett oväntat svar ({exc!r})"
    if text.strip().rstrip(".") == NO_ANSWER.rstrip("."):
        return Answer(question, method="llm"), ""
    sentences, reason = check(text, len(hits))
    if sentences is None:
        return None, reason
    used = sorted({n for _, cited in sentences for n in cited})
    renumber = {old: new for new, old in enumerate(used, 1)}
    answer = Answer(question, method="llm")
    answer.sources = [source_of(renumber[n], hits[n - 1]) for n in used]
    answer.sentences = [Sentence(s, hits[cited[0] - 1].date, [renumber[n] for n in cited]) for s, cited in sentences]
    answer.sentences.sort(key=lambda s: (s.date is None, s.date or ""))
    return answer, ""
