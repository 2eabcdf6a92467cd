"""Resolve a spec layer by layer on PyTorch's meta device: shapes, parameters and MACs; then build it for real."""
from __future__ import annotations

import copy
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine import limits
from engine.errors import SpecError
from engine.network.layers import INFERRED, RECURRENT, check_args, fmt_shape, pair
from engine.network.modules import Residual
from engine.network.spec import ModelSpec, check_structure
from engine.network.torch_args import make_module, torch_kwargs
from engine.rng import GLOBAL_RNG_LOCK

FLOAT_BYTES = 4  # float32 activations


def display_path(module_name: str) -> str:
    """A module's position as the summary table writes it: "3.body.1" -> "3.1", "1.rnn" -> "1"."""
    return ".".join(part for part in module_name.split(".") if part not in ("body", "rnn"))


@dataclass
class Row:
    """One line of the summary table.

    Attributes:
        index: position in the spec, dotted for nested layers ("3", "3.1", "3.shortcut").
        type: the spec's layer type.
        output_shape: shape of one sample's output (no batch dimension).
        params: trainable parameters (for a Residual row: everything inside it).
        activation_bytes: float32 bytes of this layer's output for one sample.
        macs: multiply-accumulates for one sample, counted by torch's FlopCounterMode.
        depth: nesting depth (0 for top-level layers).
        detail: the layer's main arguments in short, e.g. "32, 5×5, same".
    """

    index: str
    type: str
    output_shape: tuple | None
    params: int = 0
    activation_bytes: int = 0
    macs: int = 0
    depth: int = 0
    detail: str = ""


@dataclass
class Summary:
    """Everything the Build page's table shows; totals count each parameter once."""

    input_shape: tuple
    output_shape: tuple
    rows: list[Row]
    total_params: int
    total_activation_bytes: int
    total_macs: int

    @property
    def param_bytes(self) -> int:
        """float32 bytes of all parameters."""
        return self.total_params * FLOAT_BYTES

    def memory_bytes(self, batch_size: int = 1) -> dict[str, int]:
        """Rough training memory for a batch: parameters, forward activations, backward (about twice)."""
        forward = self.total_activation_bytes * batch_size
        return {"params": self.param_bytes, "forward": forward, "backward": 2 * forward}


@dataclass
class _Node:
    """A resolved layer: what to construct, and what it produces."""

    type: str
    kwargs: dict
    out_shape: tuple
    children: list["_Node"] = field(default_factory=list)
    shortcut: "_Node | None" = None


def summarize(spec: ModelSpec) -> Summary:
    """Shapes, parameter counts, activation memory and MACs of every layer, computed by PyTorch on meta tensors.

    Nothing is allocated, so any size works (VGG16 included).

    Args:
        spec: the network.

    Returns:
        The Summary.

    Raises:
        SpecError: for the first invalid layer; its ``rows`` attribute holds the rows above it.
    """
    return _resolve_spec(spec)[1]


def build(spec: ModelSpec, seed: int | None = None) -> nn.Sequential:
    """Construct the network as a torch module (on CPU, with torch's default initialisation).

    Args:
        spec: the network.
        seed: when given, the weights are drawn after ``torch.manual_seed(seed)`` on a fork of torch's global
            generator, so they are reproducible and the global generator's state is left as it was.

    Returns:
        An ``nn.Sequential`` whose parameter count equals ``summarize(spec).total_params``.

    Raises:
        SpecError: for an invalid layer, or a network over the parameter or activation caps.
    """
    nodes, summary = _resolve_spec(spec)
    if summary.total_params > limits.MAX_PARAMS:
        raise SpecError(f"the network has {summary.total_params:,} parameters; this server builds at most "
                        f"{limits.MAX_PARAMS:,}. Use fewer channels or units, or more pooling before Linear layers")
    if summary.total_activation_bytes > limits.MAX_ACTIVATION_BYTES:
        raise SpecError(f"one sample needs {summary.total_activation_bytes / 2**20:,.0f} MiB of activations; "
                        f"the limit is {limits.MAX_ACTIVATION_BYTES / 2**20:,.0f} MiB. Use a smaller input or "
                        f"fewer channels")

    # Layers initialise from torch's global generator, which every thread shares: seed a private fork of it,
    # and hold the lock so that two builds cannot interleave their draws. Unseeded builds take it too, so
    # they cannot draw in the middle of a seeded one.
    with GLOBAL_RNG_LOCK:
        if seed is None:
            return _materialize(nodes)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _materialize(nodes)


def _materialize(nodes: list[_Node]) -> nn.Sequential:
    modules = []
    for node in nodes:
        if node.type == "Residual":
            shortcut = _materialize([node.shortcut])[0] if node.shortcut else None
            modules.append(Residual(_materialize(node.children), shortcut))
        else:
            modules.append(make_module(node.type, node.kwargs))
    return nn.Sequential(*modules)


_CACHE: OrderedDict = OrderedDict()  # spec JSON -> (nodes, summary, error): pages resolve on every rerun
_CACHE_SIZE = 128
_CACHE_LOCK = threading.Lock()


def _resolve_spec(spec: ModelSpec) -> tuple[list[_Node], Summary]:
    """Resolve a spec, memoised on its JSON: each call gets its own copies of the results (or of the error)."""
    try:
        key = json.dumps([{**spec.to_dict(), "name": None}, limits.MAX_LAYERS, limits.MAX_NESTING, limits.MAX_DIM,
                          limits.MAX_RECURRENT_STACK], sort_keys=True)
    except (TypeError, ValueError, RecursionError):  # a hand-built spec holding non-JSON objects
        key = None
    with _CACHE_LOCK:
        hit = _CACHE.get(key) if key is not None else None
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is None:
        try:
            hit = (*_resolve_uncached(spec), None)
        except SpecError as err:
            hit = (None, None, err)
        if key is not None:
            with _CACHE_LOCK:
                _CACHE[key] = hit
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
    nodes, summary, err = hit
    if err is not None:
        fresh = SpecError(err.message, err.layer_index, err.path)
        fresh.rows = copy.deepcopy(err.rows)
        raise fresh
    return copy.deepcopy(nodes), copy.deepcopy(summary)


def _resolve_uncached(spec: ModelSpec) -> tuple[list[_Node], Summary]:
    # Specs from from_dict are checked already; this also covers a hand-built ModelSpec(...).
    check_structure(list(spec.input) if isinstance(spec.input, tuple) else spec.input, spec.vocab_size, spec.layers)
    rows: list[Row] = []
    shape = tuple(spec.input)
    try:
        nodes, out_shape = _resolve_list(spec.layers, shape, spec.vocab_size, "", 0, rows)
    except SpecError as err:
        err.rows = [r for r in rows if r.output_shape is not None]
        raise
    top = [r for r in rows if r.depth == 0]
    summary = Summary(input_shape=shape, output_shape=out_shape, rows=rows,
                      total_params=sum(r.params for r in top),
                      total_activation_bytes=sum(r.activation_bytes for r in rows),
                      total_macs=sum(r.macs for r in top))
    return nodes, summary


def _resolve_list(layers: list, shape: tuple, vocab: int | None, prefix: str, depth: int,
                  rows: list[Row]) -> tuple[list[_Node], tuple]:
    nodes = []
    tokens = vocab is not None and depth == 0
    for i, layer in enumerate(layers):
        path = f"{prefix}{i}"
        label = f"layer {path} {layer['type']}"
        try:
            node = _resolve_one(layer, shape, tokens, vocab, path, depth, rows, label)
        except SpecError as err:
            if err.layer_index is None:
                err.layer_index, err.path = int(path.split(".")[0]), path
            raise
        nodes.append(node)
        shape, tokens = node.out_shape, False
    return nodes, shape


def _resolve_one(layer: dict, shape: tuple, tokens: bool, vocab: int | None, path: str, depth: int,
                 rows: list[Row], label: str) -> _Node:
    ltype = layer["type"]
    if tokens and ltype != "Embedding":
        raise SpecError(f"{label} gets token ids; a token model starts with an Embedding layer")
    if ltype == "Embedding" and not tokens:
        raise SpecError(f"{label} needs token ids: it must be the first layer of a spec with a vocab_size "
                        f"and an input [T]")
    args = check_args(layer, label)
    if ltype == "Residual":
        return _resolve_residual(args, shape, vocab, path, depth, rows, label)
    kwargs = torch_kwargs(ltype, args, shape, vocab, label)
    for key in INFERRED:
        if key in layer and layer[key] != kwargs.get(key):
            where = f"is inferred as {kwargs[key]}" if key in kwargs else "is not an argument of this layer"
            raise SpecError(f"{label}: {key} {where}; remove it from the spec")
    module, out_shape, macs = _meta_forward(ltype, kwargs, shape, tokens, label)
    params = sum(p.numel() for p in module.parameters())
    rows.append(Row(path, ltype, out_shape, params, math.prod(out_shape) * FLOAT_BYTES, macs, depth,
                    _detail(ltype, args)))
    return _Node(ltype, kwargs, out_shape)


class _GlobalOnly:
    """Stands in for FlopCounterMode's ModuleTracker, whose module hooks are process-wide: with it, a summary
    in one session broke autograd.grad in another session's thread (Inspect's saliency). Counts go to "Global"."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class _ThreadFlopCounter(FlopCounterMode):
    """FlopCounterMode that touches only this thread (its dispatch mode is thread-local; its tracker was not)."""

    def __init__(self):
        super().__init__(display=False)
        self.mod_tracker = _GlobalOnly()


def _meta_forward(ltype: str, kwargs: dict, shape: tuple, tokens: bool, label: str):
    """Construct on the meta device and push one meta sample through: PyTorch's own shape and FLOP rules."""
    try:
        with torch.device("meta"):
            module = make_module(ltype, kwargs).eval()  # eval: BatchNorm accepts a batch of one
        # Meta RNNs unroll in Python (slow for long T); every step costs the same, so trace two steps and scale.
        steps = shape[0] if ltype in RECURRENT and shape[0] > 2 else None
        traced = (2, *shape[1:]) if steps else shape
        x = torch.empty((1, *traced), device="meta", dtype=torch.long if tokens else torch.float32)
        counter = _ThreadFlopCounter()
        with counter:
            y = module(x)
    except SpecError:
        raise
    except Exception as exc:  # torch's own refusal, reworded: never a bare torch error
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"{label}: {msg[:200]}") from None
    out_shape = tuple(y.shape[1:])
    macs = counter.get_total_flops() // 2
    if steps:
        macs = macs * steps // 2
        out_shape = (steps, *out_shape[1:]) if kwargs["output"] == "sequence" else out_shape
    if 0 in out_shape:
        raise SpecError(f"{label}: the output {fmt_shape(out_shape)} would be empty for input "
                        f"{fmt_shape(shape)}; use a smaller kernel or stride, or padding")
    return module, out_shape, macs


def _resolve_residual(args: dict, shape: tuple, vocab, path: str, depth: int, rows: list[Row], label: str) -> _Node:
    row = Row(path, "Residual", None, depth=depth, detail=f"{len(args['layers'])} layers + shortcut")
    rows.append(row)
    first_child = len(rows)
    children, out_shape = _resolve_list(args["layers"], shape, vocab, f"{path}.", depth + 1, rows)
    shortcut = None
    if out_shape != shape:
        kind, kwargs = _projection(shape, out_shape, label)
        _, sc_shape, sc_macs = _meta_forward(kind, kwargs, shape, False, label)
        with torch.device("meta"):
            sc_params = sum(p.numel() for p in make_module(kind, kwargs).parameters())
        rows.append(Row(f"{path}.shortcut", kind, sc_shape, sc_params, math.prod(sc_shape) * FLOAT_BYTES,
                        sc_macs, depth + 1, "1×1 projection shortcut"))
        shortcut = _Node(kind, kwargs, sc_shape)
    inner = [r for r in rows[first_child:] if r.depth == depth + 1]
    row.output_shape = out_shape
    row.params = sum(r.params for r in inner)
    row.macs = sum(r.macs for r in inner)
    row.activation_bytes = math.prod(out_shape) * FLOAT_BYTES
    return _Node("Residual", {}, out_shape, children, shortcut)


def _projection(shape: tuple, out: tuple, label: str) -> tuple[str, dict]:
    """The 1×1 shortcut that maps the block's input shape to its output shape, if one exists."""
    def stride_for(n_in: int, n_out: int):
        return next((s for s in range(1, n_in + 1) if (n_in - 1) // s + 1 == n_out), None)

    if len(shape) == len(out) == 1:
        return "Linear", {"in_features": shape[0], "out_features": out[0], "bias": False}
    if len(shape) == len(out) and len(shape) in (2, 3):
        strides = tuple(stride_for(a, b) for a, b in zip(shape[1:], out[1:]))
        if None not in strides:
            kind = "Conv2d" if len(shape) == 3 else "Conv1d"
            stride = strides if kind == "Conv2d" else strides[0]
            return kind, {"in_channels": shape[0], "out_channels": out[0], "kernel_size": 1,
                          "stride": stride, "bias": False}
    raise SpecError(f"{label}: the block turns {fmt_shape(shape)} into {fmt_shape(out)}; a 1×1 shortcut can only "
                    f"change the channels and shrink the size by a whole stride. Keep the size, or halve it "
                    f"with stride 2")


def _detail(ltype: str, args: dict) -> str:
    """The arguments a reader looks for first, in short ("5×5" for 2-D layers, "5" for 1-D ones)."""
    two_d = ltype.endswith("2d")

    def k(v):
        return v if isinstance(v, str) else fmt_shape(pair(v)) if two_d else str(v)

    def plain(v, default):
        return v in (default, (default, default), "valid")
    if ltype in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        parts = [str(args["out_channels"]), k(args["kernel_size"])]
        if not plain(args["stride"], 1):
            parts.append(f"stride {k(args['stride'])}")
        if not plain(args["padding"], 0):
            parts.append(f"pad {k(args['padding'])}")
        if not plain(args.get("dilation", 1), 1):
            parts.append(f"dil {k(args['dilation'])}")
        return ", ".join(parts)
    if ltype.startswith(("MaxPool", "AvgPool")):
        parts = [k(args["kernel_size"])]
        if args["stride"] is not None:
            parts.append(f"stride {k(args['stride'])}")
        if not plain(args["padding"], 0):
            parts.append(f"pad {k(args['padding'])}")
        return ", ".join(parts)
    if ltype == "AdaptiveAvgPool2d":
        return k(args["output_size"])
    if ltype == "Linear":
        return str(args["out_features"])
    if ltype in RECURRENT:
        return f"{args['hidden_size']}×{args['num_layers']}" + (" bi" if args["bidirectional"] else "") + \
            f", {args['output']}"
    simple = {"Dropout": "p", "LeakyReLU": "negative_slope", "ELU": "alpha", "Maxout": "pieces",
              "Embedding": "embedding_dim"}
    return str(args[simple[ltype]]) if ltype in simple else ""
