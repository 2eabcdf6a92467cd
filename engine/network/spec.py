"""ModelSpec: a network as JSON-able data using torch.nn class and argument names."""
from __future__ import annotations

import copy
import difflib
import json
import math
import re
from dataclasses import dataclass, field

from engine import limits
from engine.errors import SpecError
from engine.network.layers import RECURRENT, TYPES, check_values

_TOP_KEYS = ("name", "input", "vocab_size", "layers")
# Names travel in links into pages, file names and exported code: letters, digits and plain punctuation only.
_NAME = re.compile(r"[\w .,:;()+\-=/#@&%!?×·]{1,100}")


@dataclass
class ModelSpec:
    """A network as data.

    Attributes:
        name: a label for the network.
        input: the shape of one sample without the batch dimension: ``[F]`` (vector),
            ``[C, L]`` or ``[T, F]`` (signal or sequence), ``[C, H, W]`` (image), or ``[T]``
            token ids when ``vocab_size`` is set.
        layers: layer dicts, e.g. ``{"type": "Conv2d", "out_channels": 8, "kernel_size": 3}``.
        vocab_size: number of distinct tokens for token inputs (character models), else None.
    """

    input: list[int]
    layers: list[dict] = field(default_factory=list)
    name: str = "network"
    vocab_size: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        """Check a spec dict's structure and argument values, and wrap it.

        Each known argument must have the right type and lie in its registry range (so a link or file
        cannot hold a value the page's widgets cannot show); unknown arguments and layers that do not
        fit the shape reaching them are left to ``summarize``, which names the layer.

        Args:
            data: a dict with "input", "layers", optional "name" and "vocab_size".

        Returns:
            The spec, holding deep copies of the layer dicts.

        Raises:
            SpecError: when keys, the name, the input shape, the layer list or an argument value are malformed.
        """
        if not isinstance(data, dict):
            raise SpecError(f"a spec must be a JSON object with 'input' and 'layers', not {type(data).__name__}")
        unknown = [k for k in data if k not in _TOP_KEYS]
        if unknown:
            raise SpecError(f"unknown spec key {unknown[0]!r}; a spec has {', '.join(_TOP_KEYS)}")
        if "input" not in data:
            raise SpecError("the spec has no 'input' shape, e.g. \"input\": [1, 28, 28]")
        name = data.get("name", "network")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise SpecError("'name' must be a short string (1 to 100 letters, digits, spaces or .,:;()+-=/#@&%!?), "
                            f"not {str(name)[:40]!r}")
        vocab = data.get("vocab_size")
        layers = data.get("layers", [])
        shape = check_structure(data["input"], vocab, layers)
        return cls(input=shape, layers=copy.deepcopy(layers), name=name, vocab_size=vocab)

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelSpec":
        """Parse a JSON spec; invalid JSON, oversized text and bad structure raise SpecError."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise SpecError(f"a spec must be JSON text, not {type(text).__name__}")
        if len(text) > limits.MAX_SPEC_BYTES:
            raise SpecError(f"the spec is {len(text):,} bytes; the limit is {limits.MAX_SPEC_BYTES:,}")
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except SpecError:
            raise
        except (ValueError, RecursionError) as exc:
            raise SpecError(f"the file is not valid JSON ({str(exc)[:120]})") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict:
        """The spec as a plain dict (deep copy); ``vocab_size`` only when set."""
        out = {"name": self.name, "input": list(self.input)}
        if self.vocab_size is not None:
            out["vocab_size"] = self.vocab_size
        out["layers"] = copy.deepcopy(self.layers)
        return out

    def to_json(self, indent: int | None = 1) -> str:
        """The spec as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def copy(self, **changes) -> "ModelSpec":
        """A deep copy with some fields replaced."""
        data = self.to_dict()
        data.update(changes)
        return ModelSpec(input=list(data["input"]), layers=copy.deepcopy(data["layers"]),
                         name=data["name"], vocab_size=data.get("vocab_size"))


def _refuse_constant(name: str):
    raise SpecError(f"the spec contains {name}; use finite numbers only")


def check_structure(shape, vocab, layers) -> list[int]:
    """Check everything about a spec that does not depend on the shapes flowing through it.

    Args:
        shape: the "input" value.
        vocab: the "vocab_size" value (None for float inputs).
        layers: the "layers" value.

    Returns:
        The input shape as a list.

    Raises:
        SpecError: naming the layer and the fix, for the first problem found.
    """
    if vocab is not None and (isinstance(vocab, bool) or not isinstance(vocab, int) or not 2 <= vocab <= 100_000):
        raise SpecError(f"'vocab_size' must be a whole number from 2 to 100000, not {str(vocab)[:40]!r}")
    shape = _check_input(shape, vocab)
    check_layer_list(layers, prefix="", depth=0)
    if count_layers(layers) > limits.MAX_LAYERS:
        raise SpecError(f"the spec has more than {limits.MAX_LAYERS} layers; remove some")
    stack = _recurrent_stack(layers)
    if stack > limits.MAX_RECURRENT_STACK:
        raise SpecError(f"the spec stacks {stack} recurrent layers (num_layers × directions, summed over every "
                        f"RNN, LSTM and GRU); this server accepts at most {limits.MAX_RECURRENT_STACK}. Use fewer recurrent "
                        f"layers or a smaller num_layers")
    return shape


def _recurrent_stack(layers: list) -> int:
    total = 0
    for layer in layers:
        if layer["type"] in RECURRENT:
            total += layer.get("num_layers", 1) * (2 if layer.get("bidirectional", False) else 1)
        elif layer["type"] == "Residual":
            total += _recurrent_stack(layer.get("layers", []))
    return total


def _check_input(shape, vocab) -> list[int]:
    ok = isinstance(shape, list) and 1 <= len(shape) <= 3 and all(
        isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= limits.MAX_DIM for s in shape)
    if not ok:
        raise SpecError(f"'input' must be a list of 1 to 3 positive whole numbers (at most {limits.MAX_DIM:,}), "
                        f"e.g. [1, 28, 28], not {str(shape)[:60]}")
    if math.prod(shape) > 50_000_000:
        raise SpecError(f"the input has {math.prod(shape):,} values per sample; the limit is 50,000,000")
    if vocab is not None and len(shape) != 1:
        raise SpecError("a token input (with vocab_size) is a sequence of ids: its 'input' is [T], e.g. [32]")
    return list(shape)


def check_layer_list(layers, prefix: str, depth: int) -> None:
    """Each layer is a dict with a known "type" and in-range argument values; Residual blocks nest within the cap."""
    if not isinstance(layers, list):
        raise SpecError("'layers' must be a list of layer objects")
    if depth > limits.MAX_NESTING:
        raise SpecError(f"residual blocks are nested more than {limits.MAX_NESTING} deep; flatten some of them")
    for i, layer in enumerate(layers):
        path = f"{prefix}{i}"
        top = int(path.split(".")[0])
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise SpecError(f"layer {path} must be an object with a \"type\", e.g. {{\"type\": \"ReLU\"}}",
                            layer_index=top, path=path)
        if layer["type"] not in TYPES:
            close = difflib.get_close_matches(layer["type"], list(TYPES), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see the list of layer types"
            raise SpecError(f"layer {path}: unknown layer type {layer['type'][:40]!r}; {hint}",
                            layer_index=top, path=path)
        try:
            check_values(layer, f"layer {path} {layer['type']}")
        except SpecError as err:
            raise SpecError(err.message, layer_index=top, path=path) from None
        if layer["type"] == "Residual":
            check_layer_list(layer.get("layers"), prefix=f"{path}.", depth=depth + 1)


def count_layers(layers: list) -> int:
    """All layers, nested ones included."""
    return sum(1 + (count_layers(l.get("layers", [])) if l.get("type") == "Residual" else 0) for l in layers)
