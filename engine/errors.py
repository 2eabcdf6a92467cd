"""Errors the engine raises for bad user input, each with a message a student can act on."""
from __future__ import annotations


class SpecError(ValueError):
    """An invalid network spec: names the layer, what is wrong, and how to fix it.

    Args:
        message: the whole sentence shown to the user.
        layer_index: 0-based position in the spec's top-level ``layers``, or None for the
            spec as a whole (input shape, JSON syntax, size caps).
        path: dotted position for nested layers, e.g. "3.1" for the second layer inside the
            residual block at position 3; equals str(layer_index) for top-level layers.
    """

    def __init__(self, message: str, layer_index: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.layer_index = layer_index
        self.rows: list = []  # summary rows computed above the failing layer (set by summarize)
        self.path = path if path is not None else (None if layer_index is None else str(layer_index))


class InputError(ValueError):
    """Bad user data other than a spec (uploads, weights files, dataset options)."""
