"""Ready-made networks: classic architectures and the course's worked examples, as specs."""
from __future__ import annotations

import copy

from engine.errors import SpecError
from engine.network.layers import RECURRENT
from engine.network.spec import ModelSpec


def _conv(c, k, **kw):
    return {"type": "Conv2d", "out_channels": c, "kernel_size": k, **kw}


def _vgg16() -> dict:
    layers = []
    for n_convs, channels in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]:
        for _ in range(n_convs):
            layers += [_conv(channels, 3, padding=1), {"type": "ReLU"}]
        layers.append({"type": "MaxPool2d", "kernel_size": 2})
    layers.append({"type": "Flatten"})
    for units in (4096, 4096):
        layers += [{"type": "Linear", "out_features": units}, {"type": "ReLU"}, {"type": "Dropout", "p": 0.5}]
    layers.append({"type": "Linear", "out_features": 1000})
    return {"name": "vgg16", "input": [3, 224, 224], "layers": layers}


def _char(cell: str) -> dict:
    return {"name": f"char-{cell.lower()}", "input": [32], "vocab_size": 32, "layers": [
        {"type": "Embedding", "embedding_dim": 16},
        {"type": cell, "hidden_size": 64},
        {"type": "Linear", "out_features": 32}]}


def _block(c, stride=1):
    first = _conv(c, 3, padding=1, **({"stride": stride} if stride != 1 else {}))
    return {"type": "Residual", "layers": [first, {"type": "BatchNorm2d"}, {"type": "ReLU"},
                                           _conv(c, 3, padding="same"), {"type": "BatchNorm2d"}]}


_PRESETS: dict[str, tuple[str, dict]] = {
    "lenet5": ("LeNet-5 (LeCun 1998): tanh convolutions and average pooling on 32×32 digits", {
        "name": "lenet5", "input": [1, 32, 32], "layers": [
            _conv(6, 5), {"type": "Tanh"}, {"type": "AvgPool2d", "kernel_size": 2},
            _conv(16, 5), {"type": "Tanh"}, {"type": "AvgPool2d", "kernel_size": 2},
            {"type": "Flatten"}, {"type": "Linear", "out_features": 120}, {"type": "Tanh"},
            {"type": "Linear", "out_features": 84}, {"type": "Tanh"}, {"type": "Linear", "out_features": 10}]}),
    "mnist-cnn": ("The course's MNIST CNN: two 5×5 same-padded convs (32, 64), 2×2 max pooling, 1024 units, dropout", {
        "name": "mnist-cnn", "input": [1, 28, 28], "layers": [
            _conv(32, 5, padding="same"), {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
            _conv(64, 5, padding="same"), {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"}, {"type": "Linear", "out_features": 1024}, {"type": "ReLU"},
            {"type": "Dropout", "p": 0.4}, {"type": "Linear", "out_features": 10}]}),
    "tiny-vgg": ("A tiny VGG in the style of CNN Explainer: 3×3 conv pairs and max pooling, on 8×8 digits", {
        "name": "tiny-vgg", "input": [1, 8, 8], "layers": [
            _conv(10, 3, padding="same"), {"type": "ReLU"}, _conv(10, 3, padding="same"), {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            _conv(10, 3, padding="same"), {"type": "ReLU"}, _conv(10, 3, padding="same"), {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}),
    "resnet-mini": ("A small ResNet: identity and projection shortcuts with batch norm, on 8×8 digits", {
        "name": "resnet-mini", "input": [1, 8, 8], "layers": [
            _conv(16, 3, padding="same"), {"type": "BatchNorm2d"}, {"type": "ReLU"},
            _block(16), {"type": "ReLU"}, _block(32, stride=2), {"type": "ReLU"},
            {"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"},
            {"type": "Linear", "out_features": 10}]}),
    "vgg16": ("VGG16 (Simonyan & Zisserman 2014): 13 3×3 convs and 3 dense layers, 138M parameters", _vgg16()),
    "deep-mlp": ("A 10-layer sigmoid MLP on 8×8 digits: watch its first layers stop learning", {
        "name": "deep-mlp", "input": [1, 8, 8], "layers": [{"type": "Flatten"}] + [
            l for _ in range(10) for l in ({"type": "Linear", "out_features": 32}, {"type": "Sigmoid"})] + [
            {"type": "Linear", "out_features": 10}]}),
    "toy-mlp": ("TensorFlow-Playground style: 2 inputs, two tanh layers of 8, for the 2-D toy sets", {
        "name": "toy-mlp", "input": [2], "layers": [
            {"type": "Linear", "out_features": 8}, {"type": "Tanh"},
            {"type": "Linear", "out_features": 8}, {"type": "Tanh"}, {"type": "Linear", "out_features": 2}]}),
    "xo-cnn": ("The X-and-O example: three 3×3 filters, ReLU, pooling, a dense layer on 9×9 images", {
        "name": "xo-cnn", "input": [1, 9, 9], "layers": [
            _conv(3, 3), {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"}, {"type": "Linear", "out_features": 2}]}),
    "autoencoder": ("The course's stacked autoencoder: 784-300-150-300-784 dense layers, sigmoid output, on MNIST", {
        "name": "autoencoder", "input": [1, 28, 28], "layers": [
            {"type": "Flatten"}, {"type": "Linear", "out_features": 300}, {"type": "ReLU"},
            {"type": "Linear", "out_features": 150}, {"type": "ReLU"},
            {"type": "Linear", "out_features": 300}, {"type": "ReLU"},
            {"type": "Linear", "out_features": 784}, {"type": "Sigmoid"},
            {"type": "Unflatten", "unflattened_size": [1, 28, 28]}]}),
    "conv-autoencoder": ("A convolutional autoencoder: stride-2 convs down to 8×7×7, transposed convs back up", {
        "name": "conv-autoencoder", "input": [1, 28, 28], "layers": [
            _conv(16, 3, stride=2, padding=1), {"type": "ReLU"},
            _conv(8, 3, stride=2, padding=1), {"type": "ReLU"},
            {"type": "ConvTranspose2d", "out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1,
             "output_padding": 1}, {"type": "ReLU"},
            {"type": "ConvTranspose2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1,
             "output_padding": 1}, {"type": "Sigmoid"}]}),
    "char-rnn": ("Character-level vanilla RNN language model (tanh, 64 units)", _char("RNN")),
    "char-lstm": ("Character-level LSTM language model (64 units)", _char("LSTM")),
    "char-gru": ("Character-level GRU language model (64 units)", _char("GRU")),
}


def names() -> list[str]:
    """Preset names, in display order."""
    return list(_PRESETS)


def describe(name: str) -> str:
    """One-line description of a preset."""
    return _PRESETS[name][0]


def get(name: str) -> ModelSpec:
    """A fresh copy of a preset's spec.

    Args:
        name: one of ``names()``.

    Returns:
        The ModelSpec (a new object each call, safe to edit).

    Raises:
        KeyError: for an unknown name.
    """
    return ModelSpec.from_dict(_PRESETS[name][1])


def origin(spec) -> tuple[str, bool] | None:
    """The preset a network came from and whether it was edited since: (name, edited), or None when its name
    is no preset's (a network built from scratch or renamed).

    What ``data.adapt_spec`` sets for the data (a trained network is stored adapted) is not an edit: the input
    shape, ``vocab_size``, the last Linear layer's outputs (and an Unflatten after it), a Flatten added first, an
    Embedding removed, the last recurrent layer's ``output``. Start sets these again whatever the student chose.

    Args:
        spec: a ``ModelSpec`` or its dict as stored (an unreadable dict named after a preset counts as edited).
    """
    if isinstance(spec, ModelSpec):
        name = spec.name
    else:
        name = spec.get("name") if isinstance(spec, dict) else None
        try:
            spec = ModelSpec.from_dict(spec)
        except (SpecError, TypeError, ValueError):
            spec = None
    if not isinstance(name, str) or name not in _PRESETS:
        return None
    preset = get(name)
    if spec is None:
        return name, True
    try:
        return name, ModelSpec.from_dict(_unadapted(spec.to_dict(), preset.to_dict())) != preset
    except (SpecError, TypeError, ValueError):
        return name, True


def _unadapted(spec: dict, preset: dict) -> dict:
    """``spec`` with what ``data.adapt_spec`` may have changed put back to the preset's values."""
    layers, first = spec["layers"], preset["layers"][0] if preset["layers"] else {}
    if first.get("type") == "Embedding" and (not layers or layers[0]["type"] != "Embedding"):
        layers.insert(0, copy.deepcopy(first))  # removed for real-valued sequences
    elif layers and layers[0]["type"] == "Flatten" and first.get("type") != "Flatten":
        layers.pop(0)  # added in front of an MLP given images or sequences
    if len(layers) != len(preset["layers"]):
        return spec  # layers added or removed: edited
    for types, keys in ((RECURRENT, ("output",)), (("Linear",), ("out_features",))):
        last = [i for i, layer in enumerate(layers) if layer["type"] in types]
        if last and preset["layers"][last[-1]]["type"] == layers[last[-1]]["type"]:
            _same(layers[last[-1]], preset["layers"][last[-1]], keys)
            if types == ("Linear",):  # a dense decoder's Unflatten gives the data's images
                for j in range(last[-1] + 1, len(layers)):
                    if layers[j]["type"] == preset["layers"][j]["type"] == "Unflatten":
                        _same(layers[j], preset["layers"][j], ("unflattened_size",))
    spec["input"] = preset["input"]
    spec.pop("vocab_size", None)
    if "vocab_size" in preset:
        spec["vocab_size"] = preset["vocab_size"]
    return spec


def _same(layer: dict, like: dict, keys) -> None:
    for key in keys:
        if key in like:
            layer[key] = copy.deepcopy(like[key])
        else:
            layer.pop(key, None)
