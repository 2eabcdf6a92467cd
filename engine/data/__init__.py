"""Datasets: a registry of seeded makers and readers, each giving train/validation/test tensors and metadata.

Modules: ``registry`` (``names``, ``describe``, ``options``, ``load``, ``fit``: what pages list and call), ``base``
(the ``Dataset`` record, the seeded split, ``reconstruction``), ``toy`` (circle, XOR, spirals, digits, X/O),
``bundled`` (28×28 MNIST without a download), ``text`` (characters), ``sequences`` (sine, adding, copy, Collatz),
``download`` (the shared, locked, verified cache of full MNIST, Fashion-MNIST and CIFAR-10), ``files`` (their
readers, from the cache or a folder) and ``adapt`` (fit a network's input and output to a dataset).
"""
from engine.data import bundled, download, files
from engine.data.adapt import adapt_spec, autoencodes
from engine.data.base import SPLITS, TASKS, Dataset, has_accuracy, reconstruction
from engine.data.download import DownloadError, cache_root, progress_text
from engine.data.registry import (category, defaults, describe, download_dataset, fit, from_text, load,
                                  load_cifar10_folder, load_idx_folder, names, needs_download, options)

__all__ = ["Dataset", "TASKS", "SPLITS", "names", "describe", "category", "options", "defaults", "load", "from_text",
           "load_idx_folder", "load_cifar10_folder", "adapt_spec", "autoencodes", "fit", "reconstruction",
           "has_accuracy", "needs_download", "download_dataset", "progress_text", "cache_root", "DownloadError",
           "bundled", "download", "files"]
