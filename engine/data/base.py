"""The Dataset record every maker returns, the seeded, stratified train/validation/test split, and the
reconstruction task (an autoencoder's: the target is the input)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import InputError
from engine.network.layers import fmt_shape

TASKS = ("classification", "regression", "char", "reconstruction")
SPLITS = ("train", "val", "test")
FRACTIONS = (0.70, 0.15, 0.15)


@dataclass(repr=False, eq=False)  # tensors: compare splits with torch.equal, not ==
class Dataset:
    """Tensors for the three splits plus what a model needs to know about them.

    Attributes:
        name: the registry name ("digits", "spiral", ...; "upload" for an uploaded text).
        task: "classification" (one label per sample), "regression" (float targets ``(N, out)``)
            or "char" (next-character prediction: x and y are ``(N, T)`` token ids, y is x shifted by one).
        input_shape: one sample without the batch dimension: ``(C, H, W)`` images, ``(F,)`` points,
            ``(T, F)`` sequences, ``(T,)`` token ids. "reconstruction": y is x itself (an autoencoder's target).
        x_train, y_train, x_val, y_val, x_test, y_test: float32 inputs (long token ids for "char");
            long labels for classification, float32 ``(N, out)`` targets for regression, long ``(N, T)``
            next tokens for "char".
        classes: class names, or the vocabulary for "char"; ``[]`` for regression; for "reconstruction" the
            names of the original classes (``labels`` holds them per sample).
        vocab: the characters, in token-id order ("char" only).
        description: one paragraph on what a sample is and what the target means.
        labels: "reconstruction" only: each split's original class labels, by split name (to colour codes).
    """

    name: str
    task: str
    input_shape: tuple
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    vocab: list[str] | None = None
    description: str = ""
    labels: dict[str, torch.Tensor] | None = None

    @property
    def num_classes(self) -> int:
        """Number of classes (the vocabulary size for "char"); 0 for regression."""
        return len(self.classes)

    @property
    def output_size(self) -> int:
        """Units the model's last layer needs: one logit per class, one output per regression target, or one
        per input value for reconstruction."""
        if self.task == "reconstruction":
            return math.prod(self.input_shape)
        return self.num_classes if self.task != "regression" else int(self.y_train.shape[-1])

    @property
    def input_kind(self) -> str:
        """"tokens", "vector", "sequence" or "image", from the task and input shape."""
        if self.task == "char":
            return "tokens"
        return {1: "vector", 2: "sequence", 3: "image"}[len(self.input_shape)]

    def split(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The (x, y) tensors of "train", "val" or "test"."""
        if which not in SPLITS:
            raise KeyError(f"split must be one of {', '.join(SPLITS)}, not {which!r}")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def sizes(self) -> dict[str, int]:
        """Samples per split."""
        return {s: len(self.split(s)[0]) for s in SPLITS}

    def __repr__(self) -> str:
        out = f"{self.num_classes} classes" if has_accuracy(self.task) else f"{self.output_size} outputs"
        sizes = " / ".join(f"{k} {v}" for k, v in self.sizes().items())
        return f"Dataset({self.name!r}, {self.task}, input {fmt_shape(self.input_shape)}, {out}, {sizes})"


def has_accuracy(task: str) -> bool:
    """Whether a task's predictions are classes (so accuracy means something): classification and char."""
    return task in ("classification", "char")


def reconstruction(dataset: Dataset) -> Dataset:
    """The same images as an autoencoder's task: each target is its own input (the same tensor, not a copy).

    Args:
        dataset: an image classification Dataset (e.g. "mnist").

    Returns:
        A "reconstruction" Dataset with the same splits; ``labels`` keeps the class of every sample.

    Raises:
        InputError: for data that is not images.
    """
    if dataset.task == "reconstruction":
        return dataset
    if dataset.input_kind != "image" or dataset.task != "classification":
        raise InputError(f"an autoencoder reconstructs images; {dataset.name} gives {dataset.task} data of shape "
                         f"{fmt_shape(dataset.input_shape)}. Pick an image dataset such as mnist")
    splits = {f"{part}_{s}": getattr(dataset, f"x_{s}") for s in SPLITS for part in ("x", "y")}
    return dataclasses.replace(dataset, task="reconstruction", **splits,
                               labels={s: getattr(dataset, f"y_{s}") for s in SPLITS},
                               description=dataset.description + " Reconstruction: the target of every image is "
                               "the image itself.")


def split_indices(n: int, rng: np.random.Generator, labels: np.ndarray | None = None,
                  fractions: tuple = FRACTIONS) -> list[np.ndarray]:
    """Shuffled index arrays for train, val and test; stratified by class when labels are given.

    Each class (or the whole set) gives ``round(f·n)`` samples to val and test and the rest to train,
    so every split sees every class in the same proportion.
    """
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for idx in groups:
        idx = rng.permutation(idx)
        n_val, n_test = (int(round(f * len(idx))) for f in fractions[1:])
        parts[0].append(idx[n_val + n_test:])
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val:n_val + n_test])
    return [rng.permutation(np.concatenate(p)) for p in parts]


def make_dataset(name: str, task: str, x: np.ndarray, y: np.ndarray, classes: list[str],
                 rng: np.random.Generator, description: str, stratify: bool = True) -> Dataset:
    """Split arrays 70/15/15 (stratified for classification) and wrap them as tensors."""
    labels = y if task == "classification" and stratify else None
    parts = split_indices(len(x), rng, labels)
    tensors = []
    for idx in parts:
        tensors += [to_x(x[idx]), to_y(y[idx], task)]
    return Dataset(name, task, tuple(x.shape[1:]), *tensors, classes=classes, description=description)


def to_x(x: np.ndarray) -> torch.Tensor:
    """Inputs as a contiguous float32 tensor (a copy: callers may edit it)."""
    return torch.tensor(np.ascontiguousarray(x), dtype=torch.float32)


def to_y(y: np.ndarray, task: str) -> torch.Tensor:
    """Long labels for classification and char, float32 ``(N, out)`` targets for regression."""
    if task == "regression":
        y = np.asarray(y, dtype=np.float32)
        return torch.tensor(y.reshape(len(y), -1))
    return torch.tensor(np.asarray(y), dtype=torch.long)
