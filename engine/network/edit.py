"""Edit a spec's layer list by dotted path ("3" top-level, "3.1" inside the residual block at 3); each returns a new spec."""
from __future__ import annotations

import copy

from engine.errors import SpecError
from engine.network.spec import ModelSpec


def _split(path: str) -> list[int]:
    try:
        return [int(p) for p in str(path).split(".")]
    except ValueError:
        raise SpecError(f"bad layer position {path!r}") from None


def _container(layers: list, parts: list[int]) -> list:
    """The list that holds the layer at parts (all but the last index walk into Residual blocks)."""
    for i in parts[:-1]:
        if not (0 <= i < len(layers)) or layers[i].get("type") != "Residual":
            raise SpecError("that position is not inside a residual block")
        layers = layers[i].setdefault("layers", [])
    return layers


def paths(spec: ModelSpec) -> list[tuple[str, dict]]:
    """Every layer with its dotted path, in order (nested ones right after their block)."""
    out = []

    def walk(layers, prefix):
        for i, layer in enumerate(layers):
            out.append((f"{prefix}{i}", layer))
            if layer.get("type") == "Residual":
                walk(layer.get("layers", []), f"{prefix}{i}.")
    walk(spec.layers, "")
    return out


def get_layer(spec: ModelSpec, path: str) -> dict:
    """The layer dict at path (a copy)."""
    parts = _split(path)
    layers = _container(spec.layers, parts)
    if not 0 <= parts[-1] < len(layers):
        raise SpecError(f"there is no layer {path}")
    return copy.deepcopy(layers[parts[-1]])


def _edited(spec: ModelSpec, fn) -> ModelSpec:
    new = spec.copy()
    fn(new.layers)
    return ModelSpec.from_dict(new.to_dict())


def insert_layer(spec: ModelSpec, path: str, layer: dict) -> ModelSpec:
    """Insert ``layer`` so that it ends up at ``path`` (e.g. "0" first, "3.2" inside block 3)."""
    parts = _split(path)
    return _edited(spec, lambda layers: _container(layers, parts).insert(parts[-1], copy.deepcopy(layer)))


def append_layer(spec: ModelSpec, layer: dict, inside: str | None = None) -> ModelSpec:
    """Add ``layer`` at the end of the network, or at the end of the residual block at ``inside``."""
    if inside is None:
        return insert_layer(spec, str(len(spec.layers)), layer)
    block = get_layer(spec, inside)
    if block.get("type") != "Residual":
        raise SpecError(f"layer {inside} is not a residual block")
    return insert_layer(spec, f"{inside}.{len(block.get('layers', []))}", layer)


def remove_layer(spec: ModelSpec, path: str) -> ModelSpec:
    """Delete the layer at path."""
    get_layer(spec, path)
    parts = _split(path)
    return _edited(spec, lambda layers: _container(layers, parts).pop(parts[-1]))


def duplicate_layer(spec: ModelSpec, path: str) -> ModelSpec:
    """Insert a copy of the layer right after it."""
    layer = get_layer(spec, path)
    parts = _split(path)
    return insert_layer(spec, ".".join(map(str, [*parts[:-1], parts[-1] + 1])), layer)


def move_layer(spec: ModelSpec, path: str, delta: int) -> ModelSpec:
    """Move the layer up (delta −1) or down (+1) within its list; unchanged at either end."""
    parts = _split(path)
    siblings = _container(spec.layers, parts)
    j = parts[-1] + delta
    if not 0 <= j < len(siblings):
        return spec

    def swap(layers):
        lst = _container(layers, parts)
        lst[parts[-1]], lst[j] = lst[j], lst[parts[-1]]
    return _edited(spec, swap)


def set_arg(spec: ModelSpec, path: str, key: str, value) -> ModelSpec:
    """Set one argument of the layer at path (None removes it, restoring the default)."""
    parts = _split(path)

    def change(layers):
        layer = _container(layers, parts)[parts[-1]]
        if value is None:
            layer.pop(key, None)
        else:
            layer[key] = value
    get_layer(spec, path)
    return _edited(spec, change)


def moved_path(path: str, delta: int) -> str:
    """The path of a layer after moving it by delta within its list."""
    parts = _split(path)
    return ".".join(map(str, [*parts[:-1], max(0, parts[-1] + delta)]))
