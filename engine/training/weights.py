"""Weights as bytes: safetensors out; safetensors or a weights-only PyTorch state_dict in, checked against the model."""
from __future__ import annotations

import io
import struct

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from engine.errors import InputError

_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format is a zip archive


def save_weights(model: nn.Module) -> bytes:
    """The model's state_dict (parameters and buffers) as safetensors bytes."""
    return st_save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def read_weights(data: bytes) -> dict[str, torch.Tensor]:
    """Parse a weights file without ever running a pickle: safetensors, or torch.save's zip with weights_only.

    Raises:
        InputError: for anything else (a bare pickle, a truncated or corrupted file, objects other than tensors).
    """
    data = bytes(data)
    if _looks_like_safetensors(data):
        try:
            return st_load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise InputError(f"the safetensors file is corrupted: {exc}") from None
    if data[:4] == _ZIP_MAGIC:
        try:
            # weights_only: torch's restricted unpickler, which builds tensors and containers and nothing else
            obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure means: not a plain weights file
            raise InputError(f"the PyTorch file was refused: it is corrupted or holds more than tensors "
                             f"({type(exc).__name__}). Save it with torch.save(model.state_dict(), path)") from None
        return _state_dict(obj)
    raise InputError("not a weights file: expected .safetensors or a PyTorch state_dict saved with torch.save "
                     "(bare pickles are never opened)")


def _looks_like_safetensors(data: bytes) -> bool:
    """An 8-byte little-endian header length followed by a JSON object."""
    if len(data) < 10:
        return False
    (size,) = struct.unpack("<Q", data[:8])
    return 2 <= size <= len(data) - 8 and data[8:9] == b"{"


def _state_dict(obj) -> dict[str, torch.Tensor]:
    """The tensors of a loaded object: a state_dict, or one under "state_dict" / "model"."""
    if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                             for k, v in obj.items()):
        raise InputError("the PyTorch file does not hold a state_dict (names → tensors); "
                         "save it with torch.save(model.state_dict(), path)")
    return dict(obj)


def load_weights(model: nn.Module, data: bytes) -> nn.Module:
    """Load weights from bytes into the model in place, after checking they fit it exactly.

    Args:
        model: the network built from the session's spec.
        data: a .safetensors file, or a torch.save'd state_dict (loaded with ``weights_only=True``).

    Returns:
        The model.

    Raises:
        InputError: unreadable data, or names and shapes that differ from the model's (says which).
    """
    tensors = read_weights(data)
    own = model.state_dict()
    missing = [k for k in own if k not in tensors]
    extra = [k for k in tensors if k not in own]
    shapes = [f"{k} is {_shape(tensors[k])} in the file, {_shape(own[k])} in the network"
              for k in own if k in tensors and tensors[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if extra:
        problems.append(f"unexpected {_few(extra)}")
    if shapes:
        problems.append("; ".join(shapes[:3]) + (f" (and {len(shapes) - 3} more)" if len(shapes) > 3 else ""))
    if problems:
        raise InputError("these weights do not match the network (were they saved from another one?): "
                         + "; ".join(problems))
    bad = [k for k, v in tensors.items() if own[k].is_floating_point() and not v.is_floating_point()]
    if bad:
        raise InputError(f"these weights should be floating point: {_few(bad)}")
    model.load_state_dict(tensors)
    return model


def _shape(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape)) or "a scalar"


def _few(keys: list[str]) -> str:
    shown = ", ".join(keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def describe(data: bytes) -> str:
    """A one-line description of a weights file (format, tensors, parameters), for the upload widget."""
    tensors = read_weights(data)
    kind = "safetensors" if _looks_like_safetensors(bytes(data)) else "PyTorch state_dict"
    count = sum(t.numel() for t in tensors.values())
    return f"{kind}: {len(tensors)} tensors, {count:,} numbers"


__all__ = ["save_weights", "load_weights", "read_weights", "describe"]
