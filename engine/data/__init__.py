"""Datasets: a registry of seeded makers and readers, each giving train/validation/test tensors and metadata.

Modules: ``registry`` (``names``, ``describe``, ``options``, ``load``: what pages list and call), ``base`` (the
``Dataset`` record and the seeded split), ``toy`` (circle, XOR, spirals, digits, X/O), ``text`` (characters),
``sequences`` (sine, adding, copy, Collatz), ``files`` (MNIST/CIFAR folders) and ``adapt`` (fit a network's
input and output to a dataset with ``adapt_spec``; ``fit(spec)``, the dataset a network fits as it is).
"""
from engine.data import adapt, base, files, registry, sequences, text, toy
from engine.data.adapt import adapt_spec, fit
from engine.data.base import SPLITS, TASKS, Dataset
from engine.data.registry import (category, defaults, describe, from_text, load, load_cifar10_folder, load_idx_folder,
                                  names, options)
from engine.data.text import MAX_VOCAB

__all__ = ["Dataset", "TASKS", "SPLITS", "MAX_VOCAB", "names", "describe", "category", "options", "defaults", "load",
           "from_text", "load_idx_folder", "load_cifar10_folder", "adapt_spec", "fit",
           "adapt", "base", "files", "registry", "sequences", "text", "toy"]
