"""Fit any network spec onto any dataset (its input shape, vocabulary and number of outputs), and the dataset a
network fits as it is."""
from __future__ import annotations

import copy

from engine.data.base import Dataset, reconstruction
from engine.errors import SpecError
from engine.network.build import summarize
from engine.network.layers import RECURRENT, fmt_shape
from engine.network.spec import ModelSpec

_IMAGE = {"Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d"}
_SIGNAL = {"Conv1d", "MaxPool1d", "AvgPool1d"}
_VECTOR = {"Linear", "BatchNorm1d"}
_NEEDS = {"image": "images C×H×W", "signal": "signals C×L (channels first)", "sequence": "sequences T×F",
          "vector": "feature vectors", "tokens": "token ids (a character dataset)"}


def first_kind(layers: list[dict]) -> str | None:
    """What the first shape-sensitive layer reads: image, signal, sequence, vector, tokens, or any (a Flatten)."""
    for layer in layers:
        ltype = layer["type"]
        if ltype == "Residual":
            kind = first_kind(layer.get("layers", []))
            if kind:
                return kind
        elif ltype == "Embedding":
            return "tokens"
        elif ltype == "Flatten":
            return "any"
        for kind, types in (("image", _IMAGE), ("signal", _SIGNAL), ("sequence", RECURRENT), ("vector", _VECTOR)):
            if ltype in types:
                return kind
    return None


def gives(dataset: Dataset) -> str:
    """What a dataset's samples are, in words: "1×8×8 images", "2 features", "sequences of 50 steps × 2 features"."""
    shape = dataset.input_shape
    features = f"{shape[-1]} feature{'s' if shape[-1] != 1 else ''}"
    return {"image": f"{fmt_shape(shape)} images", "vector": features,
            "sequence": f"sequences of {shape[0]} steps × {features}",
            "tokens": f"token ids ({shape[0]} characters)"}[dataset.input_kind]


def adapt_spec(spec: ModelSpec, dataset: Dataset) -> tuple[ModelSpec, list[str]]:
    """A copy of the spec whose input, vocabulary and last Linear layer fit the dataset.

    An autoencoder (``autoencodes``) on labelled images is fitted to their reconstruction instead: its dense
    decoder gives one output per pixel. Besides the input shape (and ``vocab_size`` for character data) and the
    last Linear layer's ``out_features``, it adds a Flatten in front of an MLP given images or sequences, drops the
    Embedding of a character model given real-valued sequences, and sets the last recurrent layer's
    ``output`` to "last" for one answer per sequence (or "sequence" for next-character prediction).

    Args:
        spec: any network spec (e.g. a preset).
        dataset: the data it will train on.

    Returns:
        The adapted spec (the original is untouched) and one note per change, e.g.
        "input set to 1×8×8 for digits".

    Raises:
        SpecError: when the network cannot read this kind of data (e.g. a CNN on 2-D points), has no
            Linear layer to resize, or does not fit the data's size (e.g. LeNet-5's 5×5 kernels on 8×8 images).
            Its layer positions count the adapted spec's layers (shifted by one when a Flatten was added
            or an Embedding removed, as the notes would have said).
    """
    name, data = spec.name, dataset.name
    if dataset.task == "classification" and dataset.input_kind == "image" and autoencodes(spec):
        dataset = reconstruction(dataset)  # an autoencoder's target is its input, whatever the labels
    layers = copy.deepcopy(spec.layers)
    notes: list[str] = []
    want, have = dataset.input_kind, first_kind(layers)
    if have == "tokens" and want != "tokens":
        if want != "sequence":
            raise SpecError(f"{name} is a character model (it starts with an Embedding); {data} gives "
                            f"{gives(dataset)}, not token ids. Pick a character dataset, or a network for "
                            f"{_NEEDS[want]}")
        layers.pop(0)  # validation puts a token model's Embedding first
        notes.append(f"removed the Embedding layer: {data} gives real-valued {gives(dataset)}, not token ids")
        have = first_kind(layers)
    if want == "tokens" and have != "tokens":
        reads = f"reads {_NEEDS[have]}" if have in _NEEDS else "does not start with one"
        raise SpecError(f"{data} gives token ids, so the network must start with an Embedding layer (like the "
                        f"char-rnn preset); {name} {reads}")
    if want in ("image", "sequence") and have == "vector":
        layers.insert(0, {"type": "Flatten"})
        notes.append(f"added a Flatten layer first: {data} gives {gives(dataset)}, each becomes one vector")
    elif have not in (None, "any", want):
        hint = " (Conv1d reads channels first; these are time first)" if have == "signal" else ""
        raise SpecError(f"{name} needs {_NEEDS[have]}; the {data} dataset gives {gives(dataset)}{hint}. "
                        f"Pick a network for {_NEEDS[want]}")
    _set_recurrent_output(layers, dataset, notes)
    if dataset.task == "reconstruction":
        last = _set_reconstruction_output(layers, dataset, notes)
    else:
        last = _set_last_linear(layers, spec, dataset, notes)
    out = {"name": spec.name, "input": list(dataset.input_shape), "layers": layers}
    if want == "tokens":
        out["vocab_size"] = dataset.num_classes
        if spec.vocab_size != dataset.num_classes:
            notes.append(f"vocab_size set to {dataset.num_classes} (the characters of {data})")
    if tuple(spec.input) != tuple(dataset.input_shape):
        shape = fmt_shape(dataset.input_shape) + (" features" if want == "vector" else "")
        notes.insert(0, f"input set to {shape} for {data}")
    adapted = ModelSpec.from_dict(out)
    try:
        summary = summarize(adapted)
    except SpecError as err:
        raise SpecError(f"{name} does not fit the {gives(dataset)} of {data}: {err.message}",
                        layer_index=err.layer_index, path=err.path) from None
    expected = (dataset.input_shape[0], dataset.num_classes) if want == "tokens" else (dataset.output_size,)
    if dataset.task == "reconstruction":
        expected = tuple(dataset.input_shape)
    if tuple(summary.output_shape) != expected:
        per = {"tokens": "one score per character at every step"}.get(want, "one output vector per sample")
        if dataset.task == "reconstruction":
            per = "an image of the input's shape: the reconstruction"
        raise SpecError(f"{name} outputs {fmt_shape(summary.output_shape)} per sample on {data}, but {data} needs "
                        f"{fmt_shape(expected)} ({per}); check the layers after layer {last}")
    return adapted, notes


def _set_recurrent_output(layers: list[dict], dataset: Dataset, notes: list[str]) -> None:
    """Many-to-one data needs the last recurrent layer's last state; next-character data needs every state."""
    idx = [i for i, l in enumerate(layers) if l["type"] in RECURRENT]
    if not idx:
        return
    i = idx[-1]
    current = layers[i].get("output", "sequence")
    if dataset.task == "char":
        wanted = "sequence"
    elif any(l["type"] == "Flatten" for l in layers[i + 1:]) or current != "sequence":
        return  # the network already reduces time itself (a Flatten, or the mean of all states)
    else:
        wanted = "last"
    if current != wanted:
        layers[i]["output"] = wanted
        why = ("one answer per sequence (many-to-one)" if wanted == "last"
               else "a prediction at every step (many-to-many)")
        state = "its last state" if wanted == "last" else "every state"
        notes.append(f"the {layers[i]['type']} layer (layer {i}) now outputs {state}: {why}")


def autoencodes(spec: ModelSpec) -> bool:
    """Whether a network maps images to images of the same shape, as an autoencoder does (its target is its input).

    Args:
        spec: any network spec.

    Returns:
        True for an image input whose output has the input's shape; False otherwise or for an invalid spec.
    """
    if len(spec.input) != 3 or spec.vocab_size:
        return False
    try:
        return tuple(summarize(spec).output_shape) == tuple(spec.input)
    except SpecError:
        return False


_SHAPE_KEEPING = {"Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Dropout", "Unflatten"}


def _set_reconstruction_output(layers: list[dict], dataset: Dataset, notes: list[str]) -> int:
    """A dense decoder (last Linear, then activations and an Unflatten) resized to give the dataset's images."""
    idx = [i for i, l in enumerate(layers) if l["type"] == "Linear"]
    if not idx or any(l["type"] not in _SHAPE_KEEPING for l in layers[idx[-1] + 1:]):
        return len(layers) - 1  # a convolutional decoder: its sizes are the network's own
    i, shape, n = idx[-1], list(dataset.input_shape), dataset.output_size
    if layers[i].get("out_features") != n:
        layers[i]["out_features"] = n
        notes.append(f"last Linear (layer {i}) now has {n} outputs, one per pixel of a {fmt_shape(shape)} image")
    for j in range(i + 1, len(layers)):
        if layers[j]["type"] == "Unflatten" and list(layers[j].get("unflattened_size", [])) != shape:
            layers[j]["unflattened_size"] = shape
            notes.append(f"the Unflatten (layer {j}) now gives {fmt_shape(shape)} images")
    return i


def _set_last_linear(layers: list[dict], spec: ModelSpec, dataset: Dataset, notes: list[str]) -> int:
    """Resize the last top-level Linear layer to the dataset's outputs; returns its index."""
    idx = [i for i, l in enumerate(layers) if l["type"] == "Linear"]
    n = dataset.output_size
    if not idx:
        raise SpecError(f"{spec.name} has no Linear layer to give the {n} outputs {dataset.name} needs; "
                        f"add a Linear layer at the end")
    i = idx[-1]
    if layers[i].get("out_features") != n:
        layers[i]["out_features"] = n
        what = {"classification": f"{n} outputs, one per class",
                "regression": "1 output for the regression target" if n == 1 else f"{n} outputs, one per target",
                "char": f"{n} outputs, one per character"}[dataset.task]
        notes.append(f"last Linear (layer {i}) now has {what}")
    return i
