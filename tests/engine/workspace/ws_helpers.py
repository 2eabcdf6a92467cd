"""Helpers for the workspace store tests: exact comparison of records, a run record, a workspace file."""
import io
import math
import struct
import zipfile
from dataclasses import dataclass

import numpy as np
import torch

from engine.workspace import RunRecord


@dataclass
class Trained:
    spec: dict
    config: dict
    records: list
    weights: bytes
    model: torch.nn.Module
    x: torch.Tensor


def assert_same(a, b, where="records"):
    """Equal down to the bit: floats by their IEEE bytes (NaN, inf, -0.0), arrays by dtype, shape and bytes."""
    assert type(a) is type(b) or (isinstance(a, list | tuple) and isinstance(b, list)), (where, a, b)
    if isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), (where, a, b)
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), (where, a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b), (where, list(a), list(b))
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def odd_records():
    """Records holding everything a metric record may: non-finite floats, -0.0, arrays, scalars, lists, gaps (each
    step and epoch record with its epoch, as the loop writes them and a workspace file must hold them)."""
    return [
        {"kind": "step", "step": 1, "epoch": 0.5, "train_loss": math.nan, "val_loss": None, "eta": math.inf, "lr": -0.0,
         "grad_norm": {"0.weight": 1e-300, "2.weight": -math.inf}, "hist": np.arange(6, dtype=np.float32).reshape(2, 3),
         "ids": np.array([3, -1], dtype=np.int64), "mask": np.array([True, False]), "scale": np.float32(0.1),
         "count": np.int64(7), "pair": [1, 2.5, None, "a", [True, (4, 5)]], "big": 2 ** 70, "done": False},
        {"kind": "epoch", "step": 2, "epoch": 1, "train_loss": 0.1 + 0.2, "note": "", "empty": np.zeros((0, 3)),
         "nested": {}},
        {"kind": "step", "step": 3, "epoch": 1.5, "train_loss": 5e-324, "grad_norm": {"0.weight": math.nan}},
    ]


RESULTS = {"loss": 0.12, "accuracy": 0.95}  # test results of the shape the Train page stores


def run(number, trained, **changes):
    """A finished run of the trained network with its real records and weights."""
    fields = dict(number=number, group="train", label=f"run {number}", spec=trained.spec, config=trained.config,
                  state="finished", records=trained.records, results=dict(RESULTS), weights=trained.weights)
    return RunRecord(**{**fields, **changes})


def zip_of(members: dict) -> bytes:
    """A zip archive with these name -> bytes members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
