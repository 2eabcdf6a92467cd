"""Datasets: a registry of seeded makers and readers, each giving train/validation/test tensors and metadata.

Modules: ``registry`` (``names``, ``describe``, ``options``, ``load``: what pages list and call), ``base`` (the
``Dataset`` record and the seeded split), ``toy`` (circle, XOR, spirals, digits, X/O), ``text`` (characters),
``sequences`` (sine, adding, copy, Collatz), ``files`` (MNIST/CIFAR folders) and ``adapt`` (fit a network's
input and output to a dataset).
"""
from engine.data import adapt, base, files, registry, sequences, text, toy
from engine.data.adapt import adapt_spec
from engine.data.base import SPLITS, TASKS, Dataset
from engine.data.registry import (category, defaults, describe, from_text, load, load_cifar10_folder, load_idx_folder,
                                  names, options)
from engine.data.text import MAX_VOCAB

__all__ = ["Dataset", "TASKS", "SPLITS", "MAX_VOCAB", "names", "describe", "category", "options", "defaults", "load",
           "from_text", "load_idx_folder", "load_cifar10_folder", "adapt_spec",
           "adapt", "base", "files", "registry", "sequences", "text", "toy"]
