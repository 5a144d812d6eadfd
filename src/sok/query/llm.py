"""An optional generated answer from an OpenAI-compatible chat endpoint the
user runs (llama.cpp server, Ollama, vLLM or a hosted one). The model sees
only the numbered passages; its answer is accepted only if every sentence
cites an existing source and is grounded in what it cites (its figures
appear there, and most of its words), so a generated line can neither stand
unsourced nor cite a source for what the source does not say."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from sok.config import AnswerConfig
from sok.language import resolve_dates
from sok.records import NO_ANSWER, Answer, Hit, Sentence, source_of
from sok.store.lexical import tokenize

_CITATION = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?\]])\s+(?=[A-ZÅÄÖ0-9\"”])")
_NUMBER = re.compile(r"\d+(?:[ \u00a0]\d{3})*(?:[.,]\d+)?")

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


def complete(url: str, model: str | None, question: str, hits: list[Hit], timeout: float,
             max_tokens: int = 400) -> str:
    body = {
        "model": model or "default",
        "temperature": 0,
        # a small local model that does not stop on its own would otherwise write until its context is full
        "max_tokens": max_tokens,
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


def _numbers(text: str) -> list[str]:
    """Figures in order, thousands separators dropped ("1 059" is 1059)."""
    return [re.sub(r"[ \u00a0]", "", n).replace(",", ".") for n in _NUMBER.findall(text)]


def ungrounded(sentence: str, sources: list[str], min_share: float) -> str | None:
    """Why `sentence` is not supported by the texts it cites, in Swedish, or
    None. A figure or date the sources lack is the hallucination that hurts
    most in minutes, so it alone rejects; beyond that, a share of the
    sentence's stemmed content words must occur in the sources (a faithful
    summary of Swedish minutes reuses their words; an invented one does not)."""
    cited = " ".join(sources)
    known = set(_numbers(cited)) | {part for d in resolve_dates(cited) for part in d.split("-")}
    missing = [n for n in _numbers(sentence) if n not in known and len(n) > 1]
    if missing:
        return f"meningen \"{sentence[:60]}\" har uppgiften {missing[0]}, som inte finns i källan den hänvisar till"
    words = set(tokenize(sentence))
    if not words:
        return f"meningen \"{sentence[:60]}\" säger ingenting"
    share = len(words & set(tokenize(cited))) / len(words)
    if share < min_share:
        return (f"meningen \"{sentence[:60]}\" bygger inte på källan den hänvisar till "
                f"(bara {share:.0%} av orden finns där)")
    return None


def generated_answer(url: str, model: str | None, question: str, hits: list[Hit], cfg: AnswerConfig):
    """(Answer, "") or (None, why it was set aside)."""
    try:
        text = complete(url, model, question, hits, cfg.llm_timeout, cfg.llm_max_tokens)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, f"tjänsten på {url} svarade inte ({exc})"
    except (KeyError, IndexError, ValueError) as exc:
        return None, f"tjänsten gav ett oväntat svar ({exc!r})"
    if text.strip().rstrip(".") == NO_ANSWER.rstrip("."):
        return Answer(question, method="llm"), ""
    sentences, reason = check(text, len(hits))
    if sentences is None:
        return None, reason
    for sentence, cited in sentences:
        # a source as the model saw it: its heading (title, meeting date) and its text
        why = ungrounded(sentence, [f"{hits[n - 1].title} {hits[n - 1].date} {hits[n - 1].text}" for n in cited],
                         cfg.llm_grounding)
        if why:
            return None, why
    used = sorted({n for _, cited in sentences for n in cited})
    renumber = {old: new for new, old in enumerate(used, 1)}
    answer = Answer(question, method="llm")
    answer.sources = [source_of(renumber[n], hits[n - 1]) for n in used]
    answer.sentences = [Sentence(s, hits[cited[0] - 1].date, [renumber[n] for n in cited]) for s, cited in sentences]
    answer.sentences.sort(key=lambda s: (s.date is None, s.date or ""))
    return answer, ""
