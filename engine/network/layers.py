"""Registry of layer types: each type's arguments (for validation and UI widgets) and how it is built.

A spec layer is a dict such as ``{"type": "Conv2d", "out_channels": 8, "kernel_size": 3}`` using
torch.nn names. Input sizes (``in_channels``, ``in_features``, ``input_size``, ``num_features``,
``num_embeddings``) are inferred from the shape that reaches the layer.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any


from engine import limits
from engine.errors import SpecError


@dataclass(frozen=True)
class Arg:
    """One argument of a layer type.

    kind is one of: "int", "float", "bool", "choice", "size" (int or [h, w]), "size_or_none",
    "padding" (int, [h, w], "valid", "same" or "full"), "shape" (a list of 1 to 3 sizes, e.g. [1, 28, 28]),
    "layers" (nested list, Residual only).
    A required argument has ``required=True`` and ``example`` as the value a new layer starts with.
    """

    kind: str
    default: Any = None
    required: bool = False
    example: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    help: str = ""


@dataclass(frozen=True)
class LayerType:
    """A layer type the spec may name: its arguments, category and a one-line description.

    ``elementwise`` marks an activation applied to each number on its own (so its slope bounds the factor a
    gradient passes through it); Softmax and Maxout mix units and are not.
    """

    name: str
    category: str
    doc: str
    args: dict[str, Arg] = field(default_factory=dict)
    elementwise: bool = False

    def new(self) -> dict:
        """A fresh spec dict for this type with its required arguments set to their examples."""
        layer = {"type": self.name}
        for key, arg in self.args.items():
            if arg.required:
                layer[key] = arg.example
        return layer


def _int(default=None, lo=1, hi=None, required=False, example=None, help=""):
    return Arg("int", default, required, example, lo, hi if hi is not None else limits.MAX_DIM, help=help)


def _size(default=None, lo=1, required=False, example=None, help=""):
    return Arg("size", default, required, example, lo, limits.MAX_DIM, help=help)


_BIAS = Arg("bool", True, help="learn an additive bias")
_CEIL = Arg("bool", False, help="round the output size up: windows may run past the edge")
_RNN_ARGS = {
    "hidden_size": _int(required=True, example=32, hi=4096, help="units in the hidden state h_t"),
    "num_layers": _int(1, hi=8, help="stacked recurrent layers"),
    "bidirectional": Arg("bool", False, help="also read the sequence backwards"),
    "dropout": Arg("float", 0.0, min=0.0, max=0.95, help="dropout between stacked layers"),
    "output": Arg("choice", "sequence", choices=("sequence", "last", "mean"),
                  help="all states (many-to-many), the last state, or their mean (many-to-one)"),
}
_BN_ARGS = {"eps": Arg("float", 1e-5, min=1e-12, max=1.0), "momentum": Arg("float", 0.1, min=0.0, max=1.0),
            "affine": Arg("bool", True, help="learn a scale γ and shift β")}

TYPES: dict[str, LayerType] = {t.name: t for t in [
    LayerType("Linear", "Dense", "Fully connected y = Wx + b", {
        "out_features": _int(required=True, example=32, help="output units"), "bias": _BIAS}),
    LayerType("Conv1d", "Convolution", "1-D convolution over a C×L signal", {
        "out_channels": _int(required=True, example=8), "kernel_size": _int(required=True, example=3),
        "stride": _int(1), "padding": Arg("padding", 0), "dilation": _int(1), "groups": _int(1), "bias": _BIAS}),
    LayerType("Conv2d", "Convolution", "2-D convolution over a C×H×W image", {
        "out_channels": _int(required=True, example=8, help="feature maps (kernels)"),
        "kernel_size": _size(required=True, example=3), "stride": _size(1),
        "padding": Arg("padding", 0, help="valid = none, same = keep size (stride 1), full = K−1"),
        "dilation": _size(1, help="gaps between kernel taps (atrous)"), "groups": _int(1), "bias": _BIAS}),
    LayerType("ConvTranspose2d", "Convolution", "Transposed (fractionally strided) convolution: upsamples", {
        "out_channels": _int(required=True, example=8), "kernel_size": _size(required=True, example=3),
        "stride": _size(1), "padding": _size(0, lo=0), "output_padding": _size(0, lo=0),
        "dilation": _size(1), "groups": _int(1), "bias": _BIAS}),
    LayerType("MaxPool1d", "Pooling", "Max over 1-D windows", {
        "kernel_size": _int(required=True, example=2), "stride": Arg("size_or_none", None, min=1, max=limits.MAX_DIM),
        "padding": _int(0, lo=0), "dilation": _int(1), "ceil_mode": _CEIL}),
    LayerType("MaxPool2d", "Pooling", "Max over 2-D windows (no parameters)", {
        "kernel_size": _size(required=True, example=2),
        "stride": Arg("size_or_none", None, min=1, max=limits.MAX_DIM, help="default: the kernel size"),
        "padding": _size(0, lo=0), "dilation": _size(1), "ceil_mode": _CEIL}),
    LayerType("AvgPool1d", "Pooling", "Average over 1-D windows", {
        "kernel_size": _int(required=True, example=2), "stride": Arg("size_or_none", None, min=1, max=limits.MAX_DIM),
        "padding": _int(0, lo=0), "ceil_mode": _CEIL, "count_include_pad": Arg("bool", True)}),
    LayerType("AvgPool2d", "Pooling", "Average over 2-D windows (no parameters)", {
        "kernel_size": _size(required=True, example=2),
        "stride": Arg("size_or_none", None, min=1, max=limits.MAX_DIM, help="default: the kernel size"),
        "padding": _size(0, lo=0), "ceil_mode": _CEIL, "count_include_pad": Arg("bool", True)}),
    LayerType("AdaptiveAvgPool2d", "Pooling", "Average down to a fixed output size", {
        "output_size": _size(required=True, example=1)}),
    LayerType("BatchNorm1d", "Normalisation", "Batch normalisation of features (or C×L channels)", _BN_ARGS),
    LayerType("BatchNorm2d", "Normalisation", "Batch normalisation of image channels", _BN_ARGS),
    LayerType("Dropout", "Regularisation", "Zero each unit with probability p while training", {
        "p": Arg("float", 0.5, min=0.0, max=0.99, help="drop probability")}),
    LayerType("Flatten", "Structure", "Flatten C×H×W (or T×F) to one vector"),
    LayerType("Unflatten", "Structure", "Reshape a vector into C×H×W (or T×F): Flatten undone, e.g. in a decoder", {
        "unflattened_size": Arg("shape", required=True, example=[1, 28, 28], min=1, max=limits.MAX_DIM,
                                help="the shape of one sample, e.g. 1, 28, 28 (its product: the vector's size)")}),
    LayerType("Sigmoid", "Activation", "1/(1+e^−x); derivative at most 1/4", elementwise=True),
    LayerType("Tanh", "Activation", "tanh(x); derivative 1 − y²", elementwise=True),
    LayerType("ReLU", "Activation", "max(0, x)", elementwise=True),
    LayerType("LeakyReLU", "Activation", "max(αx, x)", {
        "negative_slope": Arg("float", 0.01, min=0.0, max=1.0)}, elementwise=True),
    LayerType("ELU", "Activation", "x if x > 0 else α(eˣ − 1)", {"alpha": Arg("float", 1.0, min=0.0, max=10.0)},
              elementwise=True),
    LayerType("Softmax", "Activation", "exp(x_i)/Σ exp(x_j) over one dimension", {
        "dim": Arg("int", -1, min=-4, max=3, help="dimension of the batched tensor (-1 = last)")}),
    LayerType("Maxout", "Activation", "max over groups of k channels: Linear(k·n) + Maxout(k) = n maxout units", {
        "pieces": _int(2, lo=2, hi=64, help="k, the linear pieces per unit")}),
    LayerType("Embedding", "Recurrent", "Token id → learned vector (needs a token input)", {
        "embedding_dim": _int(required=True, example=16, hi=4096)}),
    LayerType("RNN", "Recurrent", "Elman RNN h_t = act(W_hh h_{t−1} + W_xh x_t + b)", {
        **_RNN_ARGS, "nonlinearity": Arg("choice", "tanh", choices=("tanh", "relu"))}),
    LayerType("LSTM", "Recurrent", "Long short-term memory: input, forget, output gates and a cell", _RNN_ARGS),
    LayerType("GRU", "Recurrent", "Gated recurrent unit: reset and update gates", _RNN_ARGS),
    LayerType("Residual", "Structure", "x + f(x): the nested layers plus a shortcut (1×1 projection if shapes differ)", {
        "layers": Arg("layers", required=True, example=[])}),
]}

# The recurrent cells (the "Recurrent" category less Embedding): each is built as a ``modules.Recurrent``.
RECURRENT = ("RNN", "LSTM", "GRU")


def layer_names(category: str, elementwise: bool | None = None) -> tuple[str, ...]:
    """The layer types of a category ("Activation", "Recurrent", …) in registry order.

    Args:
        category: a ``LayerType.category``.
        elementwise: True or False keeps only the types with that ``LayerType.elementwise``; None keeps all.

    Returns:
        Type names, e.g. ``layer_names("Activation", elementwise=True)`` is Sigmoid, Tanh, ReLU, LeakyReLU, ELU.
    """
    return tuple(name for name, t in TYPES.items()
                 if t.category == category and elementwise in (None, t.elementwise))


# Sizes the engine infers from the incoming shape; a user may state them only if they agree.
INFERRED = ("in_features", "in_channels", "input_size", "num_features", "num_embeddings")


def fmt_shape(shape: tuple) -> str:
    """A shape as ``16×5×5``."""
    return "×".join(str(s) for s in shape) if shape else "scalar"


def check_args(layer: dict, label: str) -> dict:
    """Validate one layer dict's arguments and return them with defaults filled in.

    Args:
        layer: the spec dict (with "type").
        label: how messages name the layer, e.g. "layer 4 Conv2d".

    Returns:
        Argument name → value (defaults included; inferred names left as given).
    """
    ltype = TYPES[layer["type"]]
    out = {}
    for key, value in layer.items():
        if key == "type" or key in INFERRED:
            continue
        if key not in ltype.args:
            known = list(ltype.args) or ["(none)"]
            close = difflib.get_close_matches(key, list(ltype.args), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"{ltype.name} takes: {', '.join(known)}"
            raise SpecError(f"{label}: unknown argument '{key}'; {hint}")
        out[key] = _check_value(ltype.args[key], value, f"{label}: {key}")
    for key, arg in ltype.args.items():
        if key not in out:
            if arg.required:
                raise SpecError(f"{label}: missing required argument '{key}' (e.g. {key}={arg.example!r})")
            out[key] = arg.default
    return out


def check_values(layer: dict, label: str) -> None:
    """Check the type and range of each argument the layer's type knows (unknown keys: see check_args).

    Args:
        layer: the spec dict (with a known "type"); label: how messages name it, e.g. "layer 4 Conv2d".

    Raises SpecError, labelled ``f"{label}: {key}"``, for the first bad value.
    """
    args = TYPES[layer["type"]].args
    for key in [k for k in layer if k in args]:
        _check_value(args[key], layer[key], f"{label}: {key}")


def _check_value(arg: Arg, value: Any, label: str) -> Any:
    """Check one value against its Arg; returns it as a tuple for pairs."""
    if arg.kind == "layers":
        if not isinstance(value, list):
            raise SpecError(f"{label} must be a list of layers")
        return value
    if arg.kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(f"{label} must be true or false, not {_show(value)}")
        return value
    if arg.kind == "choice":
        if value not in arg.choices:
            raise SpecError(f"{label} must be one of {', '.join(map(repr, arg.choices))}, not {_show(value)}")
        return value
    if arg.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(f"{label} must be a finite number, not {_show(value)}")
        _check_range(arg, value, label)
        return float(value)
    if arg.kind == "shape":
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 3:
            raise SpecError(f"{label} must be a list of 1 to 3 sizes such as [1, 28, 28], not {_show(value)}")
        return tuple(_check_int(v, arg.min, arg.max, label) for v in value)
    if arg.kind == "size_or_none" and value is None:
        return None
    if arg.kind == "padding" and isinstance(value, str):
        if value not in ("valid", "same", "full"):
            raise SpecError(f"{label} must be a number, a pair, or 'valid', 'same' or 'full', not {_show(value)}")
        return value
    lo = 0 if arg.kind == "padding" else arg.min
    pair_ok = arg.kind in ("size", "size_or_none", "padding")
    if pair_ok and isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(f"{label} must be one number or a pair [height, width], not {_show(value)}")
        return tuple(_check_int(v, lo, arg.max, label) for v in value)
    return _check_int(value, lo, arg.max, label)


def _show(value: Any) -> str:
    text = repr(value)  # a crafted link may hold megabytes in one value: the message stays short
    return text if len(text) <= 40 else text[:37] + "..."


def _check_int(value: Any, lo: float | None, hi: float | None, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{label} must be a whole number, not {_show(value)}")
    _check_range(Arg("int", min=lo, max=hi), value, label)
    return value


def _check_range(arg: Arg, value: float, label: str) -> None:
    if arg.min is not None and value < arg.min:
        raise SpecError(f"{label} must be at least {arg.min:g}, not {_show(value)}")
    if arg.max is not None and value > arg.max:
        raise SpecError(f"{label} must be at most {arg.max:g}, not {_show(value)}")


def pair(v) -> tuple[int, int]:
    """An int or pair as a (h, w) tuple."""
    return tuple(v) if isinstance(v, tuple) else (v, v)

