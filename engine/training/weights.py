"""Weights as bytes: safetensors out; safetensors or a weights-only PyTorch state_dict in, checked against the model."""
from __future__ import annotations

import io
import struct
import zipfile

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from engine.errors import InputError
from engine.training.trajectory import TRAJECTORY, Trajectory, from_tensors, to_tensors

_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format is a zip archive
# A state_dict's pickle holds ~150 bytes per tensor; a pickle of empty dicts grows 32 times once loaded.
_MOST_PICKLE = 1 << 20
# What a PyTorch file may unpack to, in the network's own bytes: a tutorial checkpoint {"model": ..., "optimizer":
# ...} with Adam's two moments takes 3 times, plus torch.save's small records.
_TIMES_NEED = 4
_MARGIN = 1 << 20


INITIAL = "initial/"  # the prefix of a run's initial weights kept beside its own (no module name holds a "/")


def save_weights(model: nn.Module, initial: dict[str, torch.Tensor] | None = None,
                 trajectory: Trajectory | None = None) -> bytes:
    """The model's state_dict (parameters and buffers) as safetensors bytes.

    Args:
        model: the network.
        initial: the weights a run started from (``Loop.initial``), kept in the same file under names prefixed
            ``INITIAL`` for the loss line; ``load_weights`` skips them and ``initial_state`` reads them back.
        trajectory: the run's path on its principal plane, kept under names prefixed ``TRAJECTORY`` (2 × the
            parameters' size): skipped by ``load_weights``, read back by ``trajectory_of``.
    """
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({INITIAL + k: v.detach().cpu().contiguous() for k, v in (initial or {}).items()})
    tensors.update(to_tensors(trajectory) if trajectory is not None else {})
    return st_save(tensors)


def initial_state(data: bytes) -> dict[str, torch.Tensor] | None:
    """The initial weights ``save_weights(..., initial=...)`` kept in a weights file, or None when it has none."""
    found = {k[len(INITIAL):]: v for k, v in read_weights(data).items() if k.startswith(INITIAL)}
    return found or None


def trajectory_of(data: bytes) -> Trajectory | None:
    """The trajectory ``save_weights(..., trajectory=...)`` kept in a weights file, or None when it has none."""
    return from_tensors(read_weights(data))


def without_initial(data: bytes) -> bytes:
    """A weights file as a download: the run's own weights only, any initial ones (``INITIAL``) and trajectory
    (``TRAJECTORY``) left out."""
    tensors = read_weights(data)
    if not any(k.startswith((INITIAL, TRAJECTORY)) for k in tensors):
        return data
    return st_save({k: v.contiguous() for k, v in tensors.items() if not k.startswith((INITIAL, TRAJECTORY))})


def read_weights(data: bytes, need: int | None = None) -> dict[str, torch.Tensor]:
    """Parse a weights file without ever running a pickle: safetensors, or torch.save's zip with weights_only.

    Args:
        data: the file's bytes.
        need: the bytes of the network's own state_dict, when known: a PyTorch file that unpacks to more than
            4 times that (plus 1 MiB) is refused before anything is loaded.

    Raises:
        InputError: for anything else (a bare pickle, a truncated or corrupted file, objects other than tensors,
            a PyTorch file that would unpack to more than the network or the file itself can hold).
    """
    data = bytes(data)
    if _looks_like_safetensors(data):  # never compressed: its tensors take what the file takes
        try:
            return st_load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise InputError(f"the safetensors file is corrupted: {exc}") from None
    if data[:4] == _ZIP_MAGIC:
        _check_sizes(data, need)
        try:
            # weights_only: torch's restricted unpickler, which builds tensors and containers and nothing else
            obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure means: not a plain weights file
            raise InputError(f"the PyTorch file was refused: it is corrupted or holds more than tensors "
                             f"({type(exc).__name__}). Save it with torch.save(model.state_dict(), path)") from None
        return _state_dict(obj)
    raise InputError("not a weights file: expected .safetensors or a PyTorch state_dict saved with torch.save "
                     "(bare pickles are never opened)")


def _check_sizes(data: bytes, need: int | None) -> None:
    """Refuse a torch.save zip from its headers when it would unpack to more than it can hold (zip bombs)."""
    # torch.load allocates each record at the size its header gives: 3.9 MB of deflated zeros became 4 GB.
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise InputError("the PyTorch file was refused: it is not a whole zip archive (cut short?). Save it with "
                         "torch.save(model.state_dict(), path)") from None
    total = sum(info.file_size for info in infos)
    if need is not None and total > _TIMES_NEED * need + _MARGIN:
        raise InputError(f"the PyTorch file would unpack to {_mib(total)}, far more than this network's weights "
                         f"need ({_mib(need)}): it holds another network's weights, or it is a zip bomb. Save "
                         f"it with torch.save(model.state_dict(), path) from this same network")
    pickles = [info for info in infos if info.filename.endswith(".pkl") and info.file_size > _MOST_PICKLE]
    if pickles:
        raise InputError(f"the PyTorch file was refused: its {pickles[0].filename} is {_mib(pickles[0].file_size)}; "
                         f"a state_dict's is at most {_mib(_MOST_PICKLE)}")
    if total > len(data):  # torch.save stores its records uncompressed: they fit in the file
        raise InputError(f"the PyTorch file would unpack to {_mib(total)} from {_mib(len(data))}; torch.save "
                         f"never compresses, so something else made it (a zip bomb?). Save it with "
                         f"torch.save(model.state_dict(), path)")


def _mib(size: int) -> str:
    return f"{size / 2 ** 20:,.1f} MiB" if size >= 2 ** 20 else f"{size / 1024:,.1f} KiB"


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
    own = model.state_dict()
    tensors = read_weights(data, need=sum(t.numel() * t.element_size() for t in own.values()))
    # a run's initial weights and trajectory, kept beside its own
    tensors = {k: v for k, v in tensors.items() if not k.startswith((INITIAL, TRAJECTORY))}
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


__all__ = ["save_weights", "load_weights", "read_weights", "initial_state", "without_initial", "describe", "INITIAL",
           "trajectory_of"]
