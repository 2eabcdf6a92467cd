"""Sequence tasks for recurrent networks: sine forecasting, the adding problem, a copy task and Collatz parity."""
from __future__ import annotations

import numpy as np

from engine.data.base import Dataset, make_dataset


def sine(rng: np.random.Generator, n: int, T: int, noise: float) -> Dataset:
    """Windows of T noisy samples of a sine wave (random frequency and phase); the target is the next clean value."""
    omega = rng.uniform(0.1, 0.6, (n, 1))  # radians per step: periods of about 10 to 60 steps
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    t = np.arange(T + 1)[None]  # (1, T+1)
    wave = np.sin(omega * t + phase)  # (N, T+1)
    x = wave[:, :T] + noise * rng.standard_normal((n, T))
    return make_dataset("sine", "regression", x[:, :, None], wave[:, T:], [], rng,  # x: (N, T, 1), y: (N, 1)
                        f"Sine-wave forecasting: {n} windows of {T} samples of sin(ωt + φ) with random ω (periods of "
                        f"10–60 steps) and phase, Gaussian noise {noise:g}; the target is the next (clean) value. "
                        f"Many-to-one regression; split 70/15/15.")


def adding(rng: np.random.Generator, n: int, T: int) -> Dataset:
    """The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked values of a long sequence."""
    values = rng.uniform(0, 1, (n, T))
    first = rng.integers(0, T // 2, n)  # one mark in each half: the two numbers are far apart
    second = rng.integers(T // 2, T, n)
    marks = np.zeros((n, T))
    marks[np.arange(n), first] = 1.0
    marks[np.arange(n), second] = 1.0
    x = np.stack([values, marks], axis=2)  # (N, T, 2): value channel, marker channel
    y = values[np.arange(n), first] + values[np.arange(n), second]  # (N,)
    return make_dataset("adding", "regression", x, y, [], rng,
                        f"The adding problem: {n} sequences of {T} steps, each step a random value in [0, 1] and a "
                        f"marker; exactly two steps are marked (one in each half) and the target is the sum of their "
                        f"values. Always answering 1 gives a mean squared error of about 0.167; beating it needs "
                        f"memory over ~{T // 2} steps. A vanilla RNN fails as T grows, an LSTM succeeds.")


def copy(rng: np.random.Generator, n: int, T: int, symbols: int) -> Dataset:
    """Remember the first symbol through T−2 distractors and name it when the cue arrives (many-to-one)."""
    first = rng.integers(0, symbols, n)
    seq = rng.integers(0, symbols, (n, T))  # distractors from the same alphabet
    seq[:, 0] = first
    seq[:, -1] = symbols  # the recall cue: its own channel
    x = np.eye(symbols + 1, dtype=np.float32)[seq]  # (N, T, symbols + 1) one-hot
    names = [chr(ord("A") + k) for k in range(symbols)]
    return make_dataset("copy", "classification", x, first, names, rng,
                        f"A copy task for many-to-one networks: {n} sequences of {T} one-hot steps over {symbols} "
                        f"symbols ({', '.join(names)}) plus a cue channel. Step 1 holds the symbol to remember, "
                        f"then come {T - 2} random distractor symbols, and the last step is the cue; the label is "
                        f"the first symbol. Chance is {1 / symbols:.0%}. The answer depends only on the input "
                        f"{T - 1} steps back: a long-range dependency that defeats a vanilla RNN.")


def collatz(rng: np.random.Generator, n: int, T: int, bits: int) -> Dataset:
    """Windows of Collatz sequences written in binary; the label is the parity of the value that comes next."""
    limit = 2 ** bits
    windows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    per_class = n // 2
    for _ in range(200):  # rejection sampling, balanced; a few rounds suffice for the allowed options
        start = rng.integers(1, 2 ** (bits - 3), 4 * n)
        seq = np.empty((len(start), T + 1), dtype=np.int64)
        seq[:, 0] = start
        for t in range(T):
            prev = seq[:, t]
            nxt = np.where(prev % 2 == 0, prev // 2, 3 * prev + 1)
            seq[:, t + 1] = np.minimum(nxt, limit)  # rejected below; capping avoids int64 overflow
        seq = seq[(seq < limit).all(axis=1)]
        windows.append(seq[:, :T])
        labels.append(seq[:, T] % 2)
        got = np.concatenate(labels)
        if min((got == 0).sum(), (got == 1).sum()) >= per_class:
            break
    seq, label = np.concatenate(windows), np.concatenate(labels)
    keep = np.concatenate([rng.permutation(np.flatnonzero(label == c))[:per_class] for c in (0, 1)])
    seq, label = seq[keep], label[keep]
    x = ((seq[:, :, None] >> np.arange(bits)) & 1).astype(np.float32)  # (N, T, bits), least significant bit first
    return make_dataset("collatz", "classification", x, label, ["even", "odd"], rng,
                        f"Collatz sequences (each even n is followed by n/2, each odd n by 3n+1): {len(x)} windows of "
                        f"{T} consecutive values, each written as {bits} bits (least significant first); the label is "
                        f"whether the next value is even or odd (balanced classes). The rule makes it depend only on "
                        f"the last value's two lowest bits (odd n → 3n+1 is even; even n → n/2 is odd when "
                        f"n ≡ 2 mod 4), so it is easy to learn however long the window: a local rule, unlike the "
                        f"adding problem.")
