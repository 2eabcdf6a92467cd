"""Small image and point datasets: scikit-learn's 8×8 digits, the X-and-O images, TensorFlow Playground's 2-D sets."""
from __future__ import annotations

import numpy as np

from engine.data.base import Dataset, make_dataset

# TensorFlow Playground draws its points in [-6, 6]; dividing by this keeps inputs near [-1, 1].
_PLAYGROUND_SCALE = 6.0
_RADIUS = 5.0


def digits(rng: np.random.Generator) -> Dataset:
    """scikit-learn's 1,797 handwritten digits: 8×8 grey images, pixels scaled from 0..16 to [0, 1]."""
    from sklearn.datasets import load_digits  # lazy: importing scikit-learn takes a second or two

    raw = load_digits()
    x = (raw.images / 16.0)[:, None]  # (N, 1, 8, 8)
    return make_dataset("digits", "classification", x, raw.target, [str(d) for d in range(10)], rng,
                        "scikit-learn's handwritten digits (UCI): 1,797 real 8×8 grey images of 0–9, "
                        "pixels in [0, 1]; split 70/15/15, stratified by digit.")


def circle(rng: np.random.Generator, n: int, noise: float, classes: int) -> Dataset:
    """Concentric rings (a disc and a ring for two classes), as in TensorFlow Playground."""
    per, band = n // classes, _RADIUS / classes
    xs, ys = [], []
    for k in range(classes):
        # A gap before every ring but the innermost, like the Playground's [0, 0.5R] disc and [0.7R, R] ring.
        r = rng.uniform((k + (0.4 if k else 0.0)) * band, (k + 1) * band, per)
        angle = rng.uniform(0, 2 * np.pi, per)
        pts = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        # The Playground labels the noisy point but stores the clean one: noise mislabels points near a boundary.
        noisy = pts + rng.uniform(-_RADIUS, _RADIUS, pts.shape) * noise
        xs.append(pts)
        ys.append(np.minimum(np.hypot(noisy[:, 0], noisy[:, 1]) // band, classes - 1))
    names = ["inside", "outside"] if classes == 2 else [f"ring {k + 1}" for k in range(classes)]
    return _points("circle", np.concatenate(xs), np.concatenate(ys), names, rng,
                   f"TensorFlow Playground's circle: {'a disc inside a ring' if classes == 2 else f'{classes} rings'}. "
                   f"No straight line separates them; x₁² and x₂² as features do.", noise)


def xor(rng: np.random.Generator, n: int, noise: float) -> Dataset:
    """The four quadrants: class by the sign of x₁·x₂, as in TensorFlow Playground."""
    pts = rng.uniform(-5, 5, (n, 2))
    pts += np.where(pts > 0, 0.3, -0.3)  # the Playground keeps points 0.3 away from the axes
    noisy = pts + rng.uniform(-5, 5, pts.shape) * noise
    labels = (noisy[:, 0] * noisy[:, 1] < 0).astype(np.int64)
    return _points("xor", pts, labels, ["x₁·x₂ > 0", "x₁·x₂ < 0"], rng,
                   "TensorFlow Playground's XOR: the class is the sign of x₁·x₂. A perceptron cannot learn it; "
                   "a hidden layer, or the feature x₁·x₂, can.", noise)


def gaussians(rng: np.random.Generator, n: int, noise: float, classes: int) -> Dataset:
    """Gaussian blobs around a circle (two blobs at (2, 2) and (−2, −2) for two classes)."""
    per = n // classes
    variance = 0.5 + noise / 0.5 * 3.5  # the Playground maps noise 0..0.5 to variance 0.5..4
    xs, ys = [], []
    for k in range(classes):
        angle = np.pi / 4 + 2 * np.pi * k / classes
        centre = 2 * np.sqrt(2) * np.array([np.cos(angle), np.sin(angle)])
        xs.append(rng.normal(centre, np.sqrt(variance), (per, 2)))
        ys.append(np.full(per, k))
    return _points("gaussians", np.concatenate(xs), np.concatenate(ys), [f"blob {k + 1}" for k in range(classes)],
                   rng, f"{classes} Gaussian blobs; noise widens them until they overlap. Linearly separable "
                   f"when the noise is low.", noise)


def spiral(rng: np.random.Generator, n: int, noise: float, classes: int) -> Dataset:
    """Interleaved spiral arms, as in TensorFlow Playground (two arms half a turn apart)."""
    per = n // classes
    t = np.arange(per) / per
    xs, ys = [], []
    for k in range(classes):
        r, angle = t * 5, 1.75 * t * 2 * np.pi + 2 * np.pi * k / classes
        pts = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        xs.append(pts + rng.uniform(-1, 1, pts.shape) * noise)
        ys.append(np.full(per, k))
    return _points("spiral", np.concatenate(xs), np.concatenate(ys), [f"arm {k + 1}" for k in range(classes)], rng,
                   f"{classes} interleaved spiral arms: the hardest Playground set; it needs several hidden layers "
                   f"(or sin features).", noise)


def _points(name: str, pts: np.ndarray, labels: np.ndarray, classes: list[str], rng: np.random.Generator,
            text: str, noise: float) -> Dataset:
    x = pts / _PLAYGROUND_SCALE  # (N, 2), roughly in [-1, 1]
    return make_dataset(name, "classification", x, labels.astype(np.int64), classes, rng,
                        f"{text} {len(x)} points (x₁, x₂) scaled to about [−1, 1], noise {noise:g}; "
                        f"split 70/15/15, stratified.")


def xo(rng: np.random.Generator, n: int, shift: int, rotation: float, thick: float, noise: float) -> Dataset:
    """9×9 images of X (two diagonals) and O (a ring), pixels ±1, randomly shifted, rotated and thickened."""
    labels = np.arange(n) % 2  # 0 = X, 1 = O, balanced
    theta = np.deg2rad(rng.uniform(-rotation, rotation, n))
    offset = rng.integers(-shift, shift + 1, (n, 2))
    half_width = np.where(rng.random(n) < thick, 0.8, 0.5)  # 0.5: one-pixel strokes, 0.8: three pixels
    # Pixel centres relative to the image centre, mapped back through each sample's shift and rotation.
    v, u = np.mgrid[-4:5, -4:5].astype(float)  # (9, 9) rows (down), columns (right)
    u = u[None] - offset[:, 0, None, None]  # (N, 9, 9)
    v = v[None] - offset[:, 1, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    u, v = cos * u + sin * v, -sin * u + cos * v
    w = half_width[:, None, None]
    on_x = (np.minimum(np.abs(u - v), np.abs(u + v)) / np.sqrt(2) <= w) & (np.maximum(np.abs(u), np.abs(v)) <= 3.2)
    on_o = np.abs(np.hypot(u, v) - 3.0) <= w
    on = np.where(labels[:, None, None] == 0, on_x, on_o)
    on ^= rng.random(on.shape) < noise  # salt-and-pepper: flip each pixel with probability `noise`
    x = np.where(on, 1.0, -1.0)[:, None]  # (N, 1, 9, 9)
    return make_dataset("xo", "classification", x, labels, ["X", "O"], rng,
                        f"The X-and-O toy images: {n} 9×9 pictures, pixels +1 (ink) and −1, shifted up to {shift} px, "
                        f"rotated up to {rotation:g}°, {thick:.0%} drawn thick, {noise:.0%} pixels flipped. "
                        f"Three 3×3 filters (two diagonals and a cross) are enough to tell them apart.")
