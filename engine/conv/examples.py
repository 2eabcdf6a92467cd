"""Ready-made inputs and kernels for the convolution page: toy images, signals, digits, classic filters."""
from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np

from engine.errors import InputError


def _grid(rows: list[str]) -> np.ndarray:
    """'#' is +1 and '.' is −1, the ±1 pixels of the course's X/O example."""
    return np.array([[1.0 if ch == "#" else -1.0 for ch in row] for row in rows])


X_IMAGE = _grid([".........", ".#.....#.", "..#...#..", "...#.#...", "....#....",
                 "...#.#...", "..#...#..", ".#.....#.", "........."])
O_IMAGE = _grid([".........", "...###...", "..#...#..", ".#.....#.", ".#.....#.",
                 ".#.....#.", "..#...#..", "...###...", "........."])


def random_grid(size, channels: int = 1, seed: int = 0, low: int = 0, high: int = 4) -> np.ndarray:
    """Small integers (low..high) so every product and sum is easy to check by hand.

    Returns:
        (*size) for one channel, else (channels, *size).
    """
    size = (size,) if isinstance(size, int) else tuple(size)
    values = np.random.default_rng(seed).integers(low, high + 1, (channels, *size)).astype(float)
    return values[0] if channels == 1 else values


def _binomial(k: int) -> np.ndarray:
    row = np.array([comb(k - 1, i) for i in range(k)], dtype=float)
    return row / row.sum()


def _centre(k: int) -> np.ndarray:
    """A 1 at (K−1)//2: PyTorch's 'same' padding puts the odd cell after, so an even K still copies."""
    return np.eye(1, k, (k - 1) // 2)[0]


# 1-D kernels: name -> (what it does, builder taking the kernel size; None = fixed size).
KERNELS_1D = {
    "moving average": ("low-pass: the mean of K neighbours, [1/3, 1/3, 1/3] for K = 3", lambda k: np.full(k, 1 / k)),
    "first difference": ("high-pass: the slope with flip on (true convolution), minus the slope with it off "
                         "(cross-correlation), [1/2, 0, −1/2]", None),
    "second difference": ("high-pass: the curvature, [1, −2, 1]", None),
    "identity": ("copies the input: a 1 in the middle", lambda k: _centre(k)),
    "random": ("small random integers", None),
}
_FIXED_1D = {"first difference": [0.5, 0.0, -0.5], "second difference": [1.0, -2.0, 1.0]}

_EDGE = np.array([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]])
_SOBEL = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
_FIXED_2D = {
    "vertical edge": _EDGE, "horizontal edge": _EDGE.T.copy(), "Sobel x": _SOBEL, "Sobel y": _SOBEL.T.copy(),
    "Laplacian": np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "X/O diagonal ╲": _grid(["#..", ".#.", "..#"]), "X/O diagonal ╱": _grid(["..#", ".#.", "#.."]),
    "X/O cross ✕": _grid(["#.#", ".#.", "#.#"]),
}
KERNELS_2D = {
    "box blur": ("the mean of the K×K window (low-pass)", lambda k: np.full((k, k), 1 / k**2)),
    "Gaussian blur": ("binomial weights 1/16, 1/8, 1/4 … for K = 3: a softer blur",
                      lambda k: np.outer(_binomial(k), _binomial(k))),
    "vertical edge": ("responds where brightness changes from left to right", None),
    "horizontal edge": ("responds where brightness changes from top to bottom", None),
    "Sobel x": ("vertical edges, smoothed along the edge", None),
    "Sobel y": ("horizontal edges, smoothed along the edge", None),
    "Laplacian": ("second derivative in both directions: outlines and spots", None),
    "sharpen": ("the pixel minus its neighbours' blur", None),
    "X/O diagonal ╲": ("the X/O example's ±1 filter for a ╲ stroke", None),
    "X/O diagonal ╱": ("the X/O example's ±1 filter for a ╱ stroke", None),
    "X/O cross ✕": ("the X/O example's ±1 filter for the crossing in the middle of an X", None),
    "identity": ("copies the input: a 1 in the middle", lambda k: np.outer(_centre(k), _centre(k))),
    "random": ("small random integers", None),
}


def kernel(name: str, dims: int = 2, size: int = 3, seed: int = 0) -> np.ndarray:
    """A named kernel; presets with a fixed size (3 or 3×3) ignore `size`.

    Args:
        name: a key of KERNELS_1D (dims=1) or KERNELS_2D (dims=2).
        size: K for the presets that scale (averages, blurs, identity, random).
        seed: for "random".

    Returns:
        (K,) or (K, K) float array.
    """
    table, fixed = (KERNELS_1D, _FIXED_1D) if dims == 1 else (KERNELS_2D, _FIXED_2D)
    if name not in table:
        raise InputError(f"Unknown kernel {name!r}; choose one of {', '.join(table)}.")
    if name == "random":
        return random_grid((size,) * dims, seed=seed + 1, low=-1, high=1)
    build = table[name][1]
    return np.asarray(fixed[name] if build is None else build(size), dtype=float)


def fixed_size(name: str, dims: int = 2) -> int | None:
    """The preset's own kernel size, or None when the preset takes any size."""
    fixed = _FIXED_1D if dims == 1 else _FIXED_2D
    return len(fixed[name]) if name in fixed else None


SIGNALS = ("step", "ramp", "sine", "spike", "noisy step")


def signal(name: str, length: int = 16, seed: int = 0) -> np.ndarray:
    """A 1-D test signal: a step shows edges, a ramp shows slopes, noise shows smoothing."""
    t = np.arange(length, dtype=float)
    shapes = {
        "step": (t >= length // 2).astype(float) * 2,
        "ramp": t / 2,
        "sine": np.round(2 * np.sin(2 * np.pi * t / 8), 2),
        "spike": (t == length // 2).astype(float) * 4,
        "noisy step": (t >= length // 2) * 2 + np.round(np.random.default_rng(seed).normal(0, 0.3, length), 1),
    }
    if name not in shapes:
        raise InputError(f"Unknown signal {name!r}; choose one of {', '.join(SIGNALS)}.")
    return shapes[name].astype(float)


@lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    bunch = load_digits()
    return bunch.images / 16.0, bunch.target


def digit(index: int = 0) -> tuple[np.ndarray, int]:
    """An 8×8 handwritten digit (scikit-learn's copy of the UCI set), pixels in [0, 1], and its label."""
    images, labels = _digits()
    index = int(index) % len(images)
    return images[index], int(labels[index])


def digit_count() -> int:
    """How many digits `digit` can return."""
    return len(_digits()[0])
