"""From a layer's validated arguments and the shape reaching it to the torch module: its constructor's keywords.

Input sizes (``in_channels``, ``in_features``...) are inferred here, and a shape that does not suit the layer is
refused with the fix. The argument registry itself is ``engine.network.layers``.
"""
from __future__ import annotations

import math
from typing import Callable

from torch import nn

from engine.errors import SpecError
from engine.network.layers import RECURRENT, TYPES, fmt_shape, pair
from engine.network.modules import Maxout, Recurrent


def torch_kwargs(ltype: str, args: dict, in_shape: tuple, vocab_size: int | None, label: str) -> dict:
    """Constructor keyword arguments for the torch layer, with input sizes inferred.

    Raises SpecError, with the fix, when the incoming shape does not suit the layer.
    """
    rule = _RULES.get(ltype)
    if rule is None:  # activations, Dropout, Flatten: the args are the kwargs
        return dict(args)
    return rule(args, in_shape, vocab_size, label)


def _need(in_shape: tuple, ndim: int, what: str, label: str, fix: str) -> None:
    if len(in_shape) != ndim:
        raise SpecError(f"{label} needs {what} but gets shape {fmt_shape(in_shape)}; {fix}")


def _spatial_fit(args: dict, spatial: tuple, label: str, padding) -> None:
    """Kernel (with dilation) must fit inside the padded input, in every spatial dimension."""
    dims = len(spatial)
    k = pair(args["kernel_size"]) if dims == 2 else (args["kernel_size"],)
    d = pair(args.get("dilation", 1)) if dims == 2 else (args.get("dilation", 1),)
    p = pair(padding) if dims == 2 else (padding,)
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    if any(s > n + 2 * pi for s, n, pi in zip(span, spatial, p)):
        dil = f" with dilation {fmt_shape(d)} spans {fmt_shape(span)}," if any(x > 1 for x in d) else ""
        raise SpecError(f"{label}: kernel {fmt_shape(k)}{dil} is larger than its {fmt_shape(spatial)} input "
                        f"(after padding {fmt_shape(p) if len(set(p)) > 1 else p[0]}); "
                        f"use padding='same' or a smaller kernel")


def _conv_padding(args: dict, label: str, dims: int):
    """Resolve 'full' to an int; refuse 'same' with stride > 1 (PyTorch does too)."""
    pad, k, d = args["padding"], args["kernel_size"], args["dilation"]
    if pad == "full":
        kk, dd = (pair(k), pair(d)) if dims == 2 else ((k,), (d,))
        full = tuple(di * (ki - 1) for ki, di in zip(kk, dd))
        return full if dims == 2 else full[0]
    if pad == "same" and any(s != 1 for s in (pair(args["stride"]) if dims == 2 else (args["stride"],))):
        raise SpecError(f"{label}: padding='same' needs stride 1; use a number for the padding "
                        f"(e.g. {(pair(k)[0] - 1) // 2}) with this stride")
    return pad


def _groups(args: dict, c_in: int, label: str) -> None:
    g = args["groups"]
    if c_in % g or args["out_channels"] % g:
        raise SpecError(f"{label}: groups={g} must divide both in_channels ({c_in}) and "
                        f"out_channels ({args['out_channels']})")


def _conv(dims: int):
    def rule(args, in_shape, vocab, label):
        what = "an image C×H×W" if dims == 2 else "a signal C×L"
        _need(in_shape, dims + 1, what, label,
              "put it before Flatten, or choose an input of that shape" if len(in_shape) < dims + 1
              else "use a layer of the matching dimension")
        _groups(args, in_shape[0], label)
        pad = _conv_padding(args, label, dims)
        if pad != "same":  # 'same' pads by D(K−1) in total: any kernel fits
            _spatial_fit(args, in_shape[1:], label, 0 if pad == "valid" else pad)
        return dict(args, in_channels=in_shape[0], padding=pad)
    return rule


def _conv_t(args, in_shape, vocab, label):
    _need(in_shape, 3, "an image C×H×W", label, "put it before Flatten")
    _groups(args, in_shape[0], label)
    s, d, op = pair(args["stride"]), pair(args["dilation"]), pair(args["output_padding"])
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        raise SpecError(f"{label}: output_padding must be smaller than the stride or the dilation")
    return dict(args, in_channels=in_shape[0])


def _pool(dims: int, has_dilation: bool):
    def rule(args, in_shape, vocab, label):
        what = "an image C×H×W" if dims == 2 else "a signal C×L"
        _need(in_shape, dims + 1, what, label, "put it before Flatten")
        k = pair(args["kernel_size"]) if dims == 2 else (args["kernel_size"],)
        p = pair(args["padding"]) if dims == 2 else (args["padding"],)
        if any(pi * 2 > ki for pi, ki in zip(p, k)):
            raise SpecError(f"{label}: padding must be at most half the kernel size ({fmt_shape(k)})")
        _spatial_fit(dict(args, dilation=args.get("dilation", 1)), in_shape[1:], label, args["padding"])
        return dict(args)
    return rule


def _adaptive(args, in_shape, vocab, label):
    _need(in_shape, 3, "an image C×H×W", label, "put it before Flatten")
    return dict(args)


def _linear(args, in_shape, vocab, label):
    if len(in_shape) == 3:
        raise SpecError(f"{label} gets an unflattened image of shape {fmt_shape(in_shape)}; "
                        f"add a Flatten layer before it")
    return dict(args, in_features=in_shape[-1])


def _batchnorm(dims: int):
    def rule(args, in_shape, vocab, label):
        if dims == 2:
            _need(in_shape, 3, "an image C×H×W", label, "use BatchNorm1d on vectors")
        elif len(in_shape) not in (1, 2):
            raise SpecError(f"{label} needs features F or channels C×L but gets shape {fmt_shape(in_shape)}; "
                            f"use BatchNorm2d on images")
        return dict(args, num_features=in_shape[0])
    return rule


def _embedding(args, in_shape, vocab, label):
    return dict(args, num_embeddings=vocab)


def _recurrent(args, in_shape, vocab, label):
    _need(in_shape, 2, "a sequence T×F", label,
          "give the network a sequence input, or use output='sequence' on the recurrent layer before it")
    if args["dropout"] > 0 and args["num_layers"] == 1:
        raise SpecError(f"{label}: dropout acts between stacked layers; set num_layers ≥ 2 or dropout 0")
    return dict(args, input_size=in_shape[-1])


def _softmax(args, in_shape, vocab, label):
    rank = len(in_shape) + 1  # with the batch dimension
    if not -rank <= args["dim"] < rank:
        raise SpecError(f"{label}: dim {args['dim']} is outside the batched tensor's {rank} dimensions")
    return dict(args)


def _unflatten(args, in_shape, vocab, label):
    shape = tuple(args["unflattened_size"])
    if len(in_shape) != 1:
        raise SpecError(f"{label} reshapes a vector but gets shape {fmt_shape(in_shape)}; put a Flatten (or a "
                        f"Linear layer) before it")
    if math.prod(shape) != in_shape[0]:
        raise SpecError(f"{label}: {fmt_shape(shape)} holds {math.prod(shape):,} values but the vector has "
                        f"{in_shape[0]:,}; make the layer before it output {math.prod(shape):,}, or change the shape")
    return {"dim": 1, "unflattened_size": shape}  # dim 1: the first dimension after the batch


def _maxout(args, in_shape, vocab, label):
    if in_shape[0] % args["pieces"]:
        raise SpecError(f"{label}: {in_shape[0]} channels cannot be split into groups of {args['pieces']}; "
                        f"make the layer before it output a multiple of {args['pieces']}")
    return dict(args)


_RULES: dict[str, Callable] = {
    "Linear": _linear, "Conv1d": _conv(1), "Conv2d": _conv(2), "ConvTranspose2d": _conv_t,
    "MaxPool1d": _pool(1, True), "MaxPool2d": _pool(2, True), "AvgPool1d": _pool(1, False),
    "AvgPool2d": _pool(2, False), "AdaptiveAvgPool2d": _adaptive,
    "BatchNorm1d": _batchnorm(1), "BatchNorm2d": _batchnorm(2), "Embedding": _embedding,
    "RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent, "Softmax": _softmax, "Maxout": _maxout,
    "Unflatten": _unflatten,
}

_TORCH = {name: getattr(nn, name) for name in TYPES if hasattr(nn, name)}


def make_module(ltype: str, kwargs: dict) -> nn.Module:
    """Construct the torch module for a non-Residual layer from its resolved kwargs."""
    if ltype in RECURRENT:
        return Recurrent(ltype, **kwargs)
    if ltype == "Maxout":
        return Maxout(**kwargs)
    return _TORCH[ltype](**kwargs)
