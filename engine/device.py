"""Choose the compute device (CUDA, then Apple MPS, then CPU) and describe it for the UI."""
from __future__ import annotations

import os
import sys
import threading

import torch

from engine.errors import InputError

_threads: int | None = None  # what configure_threads chose; torch's own count can differ per calling thread


def configure_threads() -> int:
    """Set torch's CPU thread count once, leaving a core for the web server and other sessions.

    Returns:
        The number of intra-op threads torch now uses.
    """
    global _threads
    if _threads is None:
        cores = os.cpu_count() or 1
        # Leave a core to the web server and the other sessions; small classroom models gain little from more.
        default = max(1, min(cores - 1, 8))
        try:
            wanted = int(os.environ.get("PLAYGROUND_TORCH_THREADS", default))
        except ValueError:  # a malformed setting must not stop every page from loading
            wanted = default
        torch.set_num_threads(max(1, wanted))
        _threads = torch.get_num_threads()
    return _threads


def background_priority(nice: int) -> int | None:
    """Lower the calling thread's CPU priority to ``nice`` (Linux), so interactive threads are scheduled first.

    A background thread (a training run) still gets every core nobody else wants; the web server's and the page
    scripts' threads go first when they need one. Only ever lowers it; elsewhere (macOS, Windows) it does nothing,
    since there the call would renice the whole server.

    Returns:
        The thread's nice value afterwards, or None where threads cannot be reniced.
    """
    if not sys.platform.startswith("linux"):
        return None
    tid = threading.get_native_id()  # on Linux a thread id is a process id for the priority calls
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if nice > current:
            os.setpriority(os.PRIO_PROCESS, tid, min(nice, 19))
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:  # a sandbox that forbids it: train at the normal priority
        return None


def pick() -> torch.device:
    """The best available device.

    Returns:
        ``cuda`` when a CUDA GPU is visible, else ``mps`` on Apple silicon, else ``cpu``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve(name: str) -> torch.device:
    """A run's configured device: "auto" is ``pick()``; a missing one raises InputError."""
    if name == "auto":
        device = pick()
    else:
        device = torch.device(name)
        if name == "cuda" and not torch.cuda.is_available():
            raise InputError("no CUDA GPU on this server; use device 'auto' or 'cpu'")
        if name == "mps" and not torch.backends.mps.is_available():
            raise InputError("no Apple MPS device on this server; use device 'auto' or 'cpu'")
    if device.type == "cpu":
        configure_threads()
    return device


def describe(device: torch.device | None = None) -> str:
    """A short human description, e.g. "CUDA: NVIDIA H100 80GB HBM3" or "CPU, 2 threads".

    Args:
        device: the device to describe; defaults to ``pick()``.

    Returns:
        One line for the page header.
    """
    device = device or pick()
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    threads = configure_threads()
    return f"CPU, {threads} thread{'s' if threads != 1 else ''}"
