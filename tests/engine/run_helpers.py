"""Helpers for tests that drive background training runs."""
import time

import engine
from engine.training import TrainConfig


def toy_mlp():
    return engine.network.presets.get("toy-mlp")


def long_config(**kw):
    """A run far longer than any test waits for: it only ends when the test stops it."""
    return TrainConfig(epochs=10_000, batch_size=8, device="cpu", **kw)


def wait_for(condition, timeout=5.0):
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False
