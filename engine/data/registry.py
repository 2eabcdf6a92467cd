"""The dataset registry: name → maker, one-line description and keyword options; every load is seeded.

Pages list ``names()``, draw ``options(name)`` with the same widgets as layer arguments (each is a
``layers.Arg``), call ``load(name, seed, **options)`` and get a ``Dataset``: tensors for the train,
validation and test splits plus the metadata a model needs. ``adapt_spec`` fits any preset onto it.
Nothing is downloaded: MNIST, Fashion-MNIST and CIFAR-10 are read from a folder the user names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.data import files, sequences, text, toy
from engine.data.adapt import adapt_spec
from engine.data.base import SPLITS, TASKS, Dataset
from engine.data.text import MAX_VOCAB
from engine.errors import InputError
from engine.network.layers import Arg

__all__ = ["Dataset", "names", "describe", "category", "options", "defaults", "load", "from_text",
           "load_idx_folder", "load_cifar10_folder", "adapt_spec", "TASKS", "SPLITS", "MAX_VOCAB"]


def _n(default: int, lo: int = 100, hi: int = 10_000) -> Arg:
    return Arg("int", default, min=lo, max=hi, help="number of samples, before the 70/15/15 split")


_NOISE = Arg("float", 0.1, min=0.0, max=0.5, help="TensorFlow Playground's noise: blurs or mislabels points")
_T = Arg("int", 50, min=5, max=200, help="sequence length T")
_FOLDER = Arg("path", None, required=True, example="data/mnist", help="folder on the server holding the files")


def _file_opts(n_train: int = 10_000) -> dict[str, Arg]:
    return {"folder": _FOLDER,
            "n_train": Arg("int", n_train, min=10, max=60_000,
                           help="training images to use (fewer if the files hold fewer)"),
            "n_val": Arg("int", 2_000, min=1, max=10_000, help="validation images, held out of the training files"),
            "n_test": Arg("int", 2_000, min=1, max=10_000, help="test images, from the test files")}


@dataclass(frozen=True)
class _Entry:
    make: Callable[..., Dataset]  # make(rng, **options)
    summary: str
    category: str
    options: dict[str, Arg]


_REGISTRY: dict[str, _Entry] = {
    "digits": _Entry(toy.digits, "scikit-learn's handwritten digits: 1,797 real 8×8 images, 10 classes",
                     "Images", {}),
    "xo": _Entry(toy.xo, "X-and-O toy images: 9×9, pixels ±1, shifted, rotated and thickened", "Images", {
        "n": _n(400, 50, 2_000),
        "shift": Arg("int", 1, min=0, max=2, help="largest shift in pixels, each direction"),
        "rotation": Arg("float", 10.0, min=0.0, max=30.0, help="largest rotation in degrees"),
        "thick": Arg("float", 0.3, min=0.0, max=1.0, help="share of images drawn with thick strokes"),
        "noise": Arg("float", 0.0, min=0.0, max=0.3, help="probability of flipping each pixel")}),
    "circle": _Entry(toy.circle, "TensorFlow Playground's circle: a disc inside a ring (or more rings)", "Toy 2-D", {
        "n": _n(600, 100, 2_000), "noise": _NOISE,
        "classes": Arg("int", 2, min=2, max=4, help="number of rings")}),
    "xor": _Entry(toy.xor, "TensorFlow Playground's XOR: the class is the sign of x₁·x₂", "Toy 2-D", {
        "n": _n(600, 100, 2_000), "noise": _NOISE}),
    "gaussians": _Entry(toy.gaussians, "Gaussian blobs, one per class", "Toy 2-D", {
        "n": _n(600, 100, 2_000), "noise": _NOISE,
        "classes": Arg("int", 2, min=2, max=5, help="number of blobs")}),
    "spiral": _Entry(toy.spiral, "Interleaved spiral arms, one per class", "Toy 2-D", {
        "n": _n(600, 100, 2_000), "noise": _NOISE,
        "classes": Arg("int", 2, min=2, max=5, help="number of arms")}),
    "sine": _Entry(sequences.sine, "Sine-wave forecasting: predict the next value of a noisy window", "Sequences", {
        "n": _n(1_000, 200, 5_000), "T": Arg("int", 20, min=5, max=200, help="window length T"),
        "noise": Arg("float", 0.05, min=0.0, max=0.5, help="standard deviation of the noise on the inputs")}),
    "adding": _Entry(sequences.adding, "The adding problem: sum the two marked values of a long sequence",
                     "Sequences", {"n": _n(2_000, 200, 10_000), "T": _T}),
    "copy": _Entry(sequences.copy, "Copy task: name the first symbol after T steps of distractors", "Sequences", {
        "n": _n(2_000, 200, 10_000), "T": Arg("int", 20, min=3, max=200, help="sequence length T"),
        "symbols": Arg("int", 4, min=2, max=8, help="alphabet size (classes)")}),
    "collatz": _Entry(sequences.collatz, "Collatz sequences in binary: is the next value even or odd?", "Sequences", {
        "n": _n(2_000, 200, 10_000), "T": Arg("int", 10, min=2, max=100, help="window length T"),
        "bits": Arg("int", 16, min=8, max=24, help="bits per value (largest value 2^bits − 1)")}),
    "hello": _Entry(lambda rng: text.hello(), "The 'hello' toy: 'hell' → 'ello' over 4 letters", "Characters", {}),
    "zen": _Entry(text.zen, "The Zen of Python, character by character", "Characters", {
        "seq_len": Arg("int", 32, min=4, max=128, help="characters per training sequence")}),
    "mnist": _Entry(lambda rng, folder, **kw: files.load_idx(folder, "mnist", rng, **kw),
                    "MNIST handwritten digits (28×28) from the IDX files in a folder", "Folders", _file_opts()),
    "fashion-mnist": _Entry(lambda rng, folder, **kw: files.load_idx(folder, "fashion-mnist", rng, **kw),
                            "Fashion-MNIST clothing (28×28) from the IDX files in a folder", "Folders", _file_opts()),
    "cifar10": _Entry(lambda rng, folder, **kw: files.load_cifar(folder, rng, **kw),
                      "CIFAR-10 colour images (32×32) from the binary batches in a folder", "Folders", _file_opts()),
}


def names() -> list[str]:
    """Dataset names, in display order."""
    return list(_REGISTRY)


def describe(name: str) -> str:
    """One-line description of a dataset."""
    return _entry(name).summary


def category(name: str) -> str:
    """The group a page lists the dataset under: "Images", "Toy 2-D", "Sequences", "Characters" or "Folders"."""
    return _entry(name).category


def options(name: str) -> dict[str, Arg]:
    """The keyword options ``load`` accepts for a dataset, as ``layers.Arg`` (kind, default, min, max, help).

    Kinds are "int", "float" and "path" (a required folder on the server).
    """
    return dict(_entry(name).options)


def defaults(name: str) -> dict:
    """Option name → default value (required options, such as a folder, are left out)."""
    return {k: a.default for k, a in _entry(name).options.items() if not a.required}


def load(name: str, seed: int = 0, **opts) -> Dataset:
    """Make or read a dataset, split into train, validation and test, deterministically for a seed.

    Args:
        name: one of ``names()``.
        seed: the same seed gives identical tensors; a different seed, different samples and splits.
        **opts: options from ``options(name)``; missing ones take their defaults.

    Returns:
        The Dataset.

    Raises:
        InputError: unknown name or option, a value out of range, or unreadable files.
    """
    entry = _entry(name)
    rng = np.random.default_rng(_check_seed(seed))
    return entry.make(rng, **_check_options(name, entry.options, opts))


def from_text(data: str | bytes, seq_len: int = 32, seed: int = 0, name: str = "upload") -> Dataset:
    """A next-character dataset from an uploaded .txt (bytes are decoded as UTF-8).

    Args:
        data: the file's bytes or text; at most ``limits.MAX_UPLOAD_BYTES``.
        seq_len: characters per sample (4 to 256).
        seed: shuffles the windows.
        name: the Dataset's name.

    Returns:
        A "char" Dataset: x and y ``(N, seq_len)`` long, y one character ahead of x.

    Raises:
        InputError: empty, too big, not UTF-8, binary, too many distinct characters, or too short for seq_len.
    """
    seq_len = _check_value("seq_len", Arg("int", 32, min=4, max=256), seq_len)
    rng = np.random.default_rng(_check_seed(seed))
    body = text.decode_upload(data)
    return text.text_dataset(name, body, seq_len, rng, f"Uploaded text ({len(body):,} characters). ")


def load_idx_folder(folder: str | Path, kind: str = "mnist", seed: int = 0, **opts) -> Dataset:
    """MNIST or Fashion-MNIST from the standard IDX files (optionally .gz) in a folder on the server.

    Args:
        folder: holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
            t10k-labels-idx1-ubyte.
        kind: "mnist" or "fashion-mnist" (sets the class names).
        seed: which images are sampled into each split.
        **opts: n_train, n_val (both from the training files), n_test.

    Raises:
        InputError: a missing folder or file, or a corrupt file (wrong magic number, truncated, size mismatch).
    """
    if kind not in ("mnist", "fashion-mnist"):
        raise InputError(f"kind must be 'mnist' or 'fashion-mnist', not {kind!r}")
    return load(kind, seed=seed, folder=folder, **opts)


def load_cifar10_folder(folder: str | Path, seed: int = 0, **opts) -> Dataset:
    """CIFAR-10 from its binary batches (data_batch_1.bin … test_batch.bin; never the pickle version).

    Args:
        folder: holds the .bin files, or the cifar-10-batches-bin folder the archive unpacks to.
        seed: which images are sampled into each split.
        **opts: n_train, n_val (both from the training batches), n_test.

    Raises:
        InputError: a missing folder or file, or a corrupt file (wrong size, bad label byte).
    """
    return load("cifar10", seed=seed, folder=folder, **opts)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        import difflib
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(_REGISTRY)}"
        raise InputError(f"unknown dataset {str(name)[:40]!r}; {hint}")
    return _REGISTRY[name]


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise InputError(f"the seed must be a whole number from 0 upwards, not {seed!r}")
    return int(seed)


def _check_options(name: str, spec: dict[str, Arg], given: dict) -> dict:
    unknown = [k for k in given if k not in spec]
    if unknown:
        known = ", ".join(spec) or "no options"
        raise InputError(f"{name} has no option {unknown[0]!r}; it takes {known}")
    out = {}
    for key, arg in spec.items():
        if key not in given:
            if arg.required:
                raise InputError(f"{name} needs the option {key!r} ({arg.help}), e.g. {key}={arg.example!r}")
            out[key] = arg.default
        else:
            out[key] = _check_value(key, arg, given[key])
    return out


def _check_value(key: str, arg: Arg, value):
    """One option value against its Arg: whole numbers for "int", finite numbers for "float", in range."""
    if arg.kind == "path":
        if not isinstance(value, (str, Path)) or not str(value).strip():
            raise InputError(f"{key} must be a folder path, not {value!r}")
        return value
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if arg.kind == "int":
        if not number or not float(value).is_integer():
            raise InputError(f"{key} must be a whole number, not {value!r}")
        value = int(value)
    elif not number or not math.isfinite(value):
        raise InputError(f"{key} must be a finite number, not {value!r}")
    else:
        value = float(value)
    if not arg.min <= value <= arg.max:
        raise InputError(f"{key} must be from {arg.min:g} to {arg.max:g}, not {value:g}")
    return value
