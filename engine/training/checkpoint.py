"""Checkpoints: a run's weights, optimiser state and place in its data as bytes (safetensors, never a pickle).

``capture`` and ``restore`` are the serialisation of a ``Loop`` (same package, so they read its fields); the
tensors go into safetensors and everything else into the safetensors JSON header, so reading a checkpoint never
runs code from it.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from engine.errors import InputError
from engine.training.weights import INITIAL, _looks_like_safetensors, load_weights, save_weights

FORMAT = 1  # bumped when the layout below changes; an unknown one is refused, never guessed at
_META = "playground"  # the safetensors metadata key that holds our JSON


@dataclass(frozen=True)
class Checkpoint:
    """A run's state between two batches: enough to continue it in another process (``Trainer(..., resume=)``).

    Attributes:
        weights: the model's state_dict as safetensors, as ``Trainer.weights()``.
        optimizer: the optimiser's state tensors as safetensors; its name and parameter-group structure in the
            JSON header. An ended run has freed this state, so its checkpoint carries none.
        progress: where the run is in its data (this epoch's shuffled order and position, the random generators'
            states), the epoch's running sums, time trained, live setting changes and early stopping's best
            weights, as safetensors with a JSON header: a resumed run draws the batches the uninterrupted one would.
        step, epoch: batches and epochs done.
        records: metric records produced so far; the resumed run numbers its records on from here.
    """

    weights: bytes
    optimizer: bytes
    progress: bytes
    step: int
    epoch: int
    records: int


    def state_blob(self) -> bytes:
        """Everything but the weights as one safetensors blob (a database keeps the weights on their own)."""
        blobs = {name: torch.frombuffer(bytearray(data), dtype=torch.uint8)
                 for name, data in (("optimizer", self.optimizer), ("progress", self.progress))}
        return _pack(blobs, {"step": self.step, "epoch": self.epoch, "records": self.records})

    @classmethod
    def from_blobs(cls, weights: bytes, state: bytes) -> "Checkpoint":
        """The inverse of ``state_blob``, with the weights stored beside it.

        Raises:
            InputError: a blob that is not one of ours, or is damaged.
        """
        tensors, meta = _unpack(state, "state")
        if set(tensors) != {"optimizer", "progress"}:
            raise InputError("the checkpoint's state is incomplete: it was not written by this playground")
        counts = [_number(meta, key, "state") for key in ("step", "epoch", "records")]
        return cls(bytes(weights), tensors["optimizer"].numpy().tobytes(), tensors["progress"].numpy().tobytes(),
                   *counts)


# ---------------------------------------------------------------- safetensors with a JSON header
def _pack(tensors: dict[str, torch.Tensor], meta: dict) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return st_save(tensors, metadata={_META: json.dumps(dict(meta, format=FORMAT))})


def _unpack(data, what: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and JSON header of one blob; InputError naming ``what`` when it is not ours or is damaged."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or not _looks_like_safetensors(bytes(data)):
        raise InputError(f"the checkpoint's {what} is not a safetensors blob: the checkpoint is corrupted or "
                         f"not from this playground")
    data = bytes(data)
    try:
        (size,) = struct.unpack("<Q", data[:8])
        meta = json.loads(json.loads(data[8:8 + size]).get("__metadata__", {}).get(_META, "null"))
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError, AttributeError, TypeError) as exc:
        raise InputError(f"the checkpoint's {what} is corrupted: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"the checkpoint's {what} has no playground header of format {FORMAT}: it is corrupted "
                         f"or from another program or version")
    return tensors, meta


def _number(meta: dict, key: str, what: str, kind=int, lo: float = 0):
    value = meta.get(key)
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok or value < lo:
        raise InputError(f"the checkpoint's {what} has a bad {key} ({str(value)[:40]}): it is corrupted")
    return kind(value)


# ---------------------------------------------------------------- the optimiser
def save_optimizer(optimizer: torch.optim.Optimizer, name: str) -> bytes:
    """The optimiser's state as safetensors (``state.<param>.<key>``); name and group sizes in the header."""
    state = optimizer.state_dict()
    tensors, plain = {}, {}
    for pid, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{key}"] = value
            else:  # e.g. a momentum buffer that is None
                plain.setdefault(str(pid), {})[key] = value
    sizes = [len(g["params"]) for g in state["param_groups"]]
    return _pack(tensors, {"optimizer": name, "groups": sizes, "plain": plain})


def load_optimizer(optimizer: torch.optim.Optimizer, name: str, data: bytes) -> None:
    """Load a ``save_optimizer`` blob into ``optimizer`` (the run's ``name``), keeping its own hyperparameters.

    The rate, momentum, betas and the rest stay as the run's config made them (the config is the truth); only the
    moments, sums and step counts come from the checkpoint.

    Raises:
        InputError: corrupt data, another optimiser's state, or state for a network of other shapes.
    """
    tensors, meta = _unpack(data, "optimiser state")
    saved = meta.get("optimizer")
    if saved != name:
        raise InputError(f"the checkpoint holds the state of the {str(saved)[:40]} optimiser but this run uses "
                         f"{name}: resume with optimizer={saved!r}, or start a new run")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    # Parameters in group order (penalised first): a run before 7 December kept them in two groups, now in one,
    # so their order, not their grouping, must agree (and every shape, below).
    groups = meta.get("groups")
    if not (isinstance(groups, list) and all(isinstance(n, int) and n >= 0 for n in groups)
            and sum(groups) == len(params)):
        raise InputError(f"the checkpoint's optimiser state is for {groups} parameters per group, this network has "
                         f"{len(params)} parameters: it was saved from another network")
    state: dict[int, dict] = {}
    plain = meta.get("plain") if isinstance(meta.get("plain"), dict) else {}
    for pid, entries in plain.items():
        if not (pid.isdigit() and int(pid) < len(params) and isinstance(entries, dict)
                and all(v is None or isinstance(v, (int, float)) for v in entries.values())):
            raise InputError("the checkpoint's optimiser state has a bad entry: it is corrupted")
        state.setdefault(int(pid), {}).update(entries)
    entries = []
    for key, tensor in tensors.items():
        _, pid, field = (key.split(".", 2) + ["", ""])[:3]
        if not (key.startswith("state.") and pid.isdigit() and int(pid) < len(params) and field):
            raise InputError(f"the checkpoint's optimiser state has an unknown tensor {key[:60]!r}: it is corrupted")
        entries.append((int(pid), field, tensor))
    for pid, field, tensor in sorted(entries, key=lambda e: e[:2]):  # the first parameter that differs is named
        if tensor.dim() and tensor.shape != params[pid].shape:
            raise InputError(f"the checkpoint's optimiser state for parameter {pid} has shape "
                             f"{tuple(tensor.shape)}, the network's is {tuple(params[pid].shape)}: it was saved "
                             f"from another network")
        state.setdefault(pid, {})[field] = tensor
    groups = optimizer.state_dict()["param_groups"]  # this run's hyperparameters, with torch's parameter ids
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise InputError(f"the checkpoint's optimiser state does not load: {exc}") from None


# ---------------------------------------------------------------- the run's place
def capture(loop, records: int) -> Checkpoint:
    """The ``Loop``'s state now, between batches (the caller holds the run's compute lock)."""
    tensors = {"generator": loop.generator.get_state()}
    meta = {"dataset": loop.dataset.name, "train_size": len(loop.x_train), "batch_size": loop.config.batch_size,
            "position": loop._pos, "numpy_rng": loop.rng.bit_generator.state, "elapsed": loop.elapsed,
            "validating": loop._val is not None, "changes": loop.changes,
            "ended": loop.outcome[0] if loop.outcome else None,
            "guard_first": loop.guard.first}  # the divergence bar: the run's first loss, not the resumed one's
    if loop._pos:  # mid-epoch: the rest of this epoch's order (a new one is drawn at an epoch's start)
        tensors["order"] = loop._perm
    if loop.dropout_generator is not None:
        tensors["dropout_generator"] = loop.dropout_generator.get_state()
        meta["dropout_device"] = loop.dropout_generator.device.type
    # the epoch's sums so far, with the steps not yet read into a record (one synchronisation, only here)
    window = loop._window_sums().tolist()
    meta["epoch_sums"] = [loop._epoch_loss + window[0], loop._epoch_correct + window[1],
                          loop._epoch_seen + loop._seen]
    if loop.recorder is not None:  # the histograms' edges, so a resumed run bins as before
        meta["hist_edges"] = loop.recorder.edge_specs()
    best = loop.best
    if best:
        meta["best"] = {k: best[k] for k in ("val_loss", "epoch", "bad_epochs")}
        tensors.update({f"best.{i}": t for i, t in enumerate(best.get("state", []))})
    tensors.update({INITIAL + k: v for k, v in (loop.initial or {}).items()})  # the loss line's start, kept
    return Checkpoint(save_weights(loop.model), save_optimizer(loop.optimizer, loop.config.optimizer),
                      _pack(tensors, meta), loop.step, loop.epoch, records)


def restore(loop, checkpoint: Checkpoint) -> None:
    """Put a checkpoint into a fresh ``Loop`` of the same network, data and schedule.

    Raises:
        InputError: a checkpoint that is corrupted, from another network, optimiser, dataset or batch size, or
            with nothing left to train.
    """
    if not isinstance(checkpoint, Checkpoint):
        raise InputError(f"resume needs a Checkpoint (from Trainer.checkpoint()), not {type(checkpoint).__name__}")
    counts = {"step": checkpoint.step, "epoch": checkpoint.epoch, "records": checkpoint.records}
    step, epoch, _ = (_number(counts, k, "counters") for k in counts)
    tensors, meta = _unpack(checkpoint.progress, "progress")
    _check_place(loop, meta, tensors, step, epoch)
    try:
        load_weights(loop.model, checkpoint.weights)
    except InputError as err:
        raise InputError(f"the checkpoint's weights do not fit this run: {err}") from None
    load_optimizer(loop.optimizer, loop.config.optimizer, checkpoint.optimizer)
    loop.initial = {k[len(INITIAL):]: v for k, v in tensors.items() if k.startswith(INITIAL)} or None
    if loop.recorder is not None:
        loop.recorder.set_edge_specs(meta.get("hist_edges"))
    position = _number(meta, "position", "progress")
    loop.step, loop.epoch, loop._pos = step, epoch, position
    loop._first_step = step  # the first step after a resume is recorded, like a fresh run's first
    if position:
        loop._perm = tensors["order"].to(loop.device)
    _set_generators(loop, meta, tensors)
    loop.elapsed = _number(meta, "elapsed", "progress", float)
    first = meta.get("guard_first")  # None in a checkpoint from before it was kept (Trainer: its history's)
    if isinstance(first, (int, float)) and not isinstance(first, bool) and math.isfinite(first):
        loop.guard.first = float(first)
    loop._epoch_loss, loop._epoch_correct, loop._epoch_seen = _sums(meta)
    loop.changes = [{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()} for c in meta["changes"]]
    if meta.get("best"):
        state = [tensors[f"best.{i}"].to(t.device, t.dtype) for i, t in enumerate(loop._state)
                 if f"best.{i}" in tensors]
        loop.best = dict(meta["best"], **({"state": state} if len(state) == len(loop._state) else {}))
    if meta["validating"]:  # the epoch's batches were done; its validation pass runs again from the start
        loop._val = [0, torch.zeros(2, device=loop.device)]


def _check_place(loop, meta: dict, tensors: dict, step: int, epoch: int) -> None:
    """The checkpoint's dataset, schedule and position must be this run's."""
    if meta.get("ended"):
        raise InputError(f"the checkpoint was taken after the run ended ({str(meta['ended'])[:20]}): there is "
                         f"nothing to resume; start a new run")
    if meta.get("dataset") != loop.dataset.name or meta.get("train_size") != len(loop.x_train):
        raise InputError(f"the checkpoint was taken on {str(meta.get('dataset'))[:40]} "
                         f"({meta.get('train_size')} training samples); this run trains on {loop.dataset.name} "
                         f"({len(loop.x_train)}): resume with the same dataset, seed and options")
    if meta.get("batch_size") != loop.config.batch_size:
        raise InputError(f"the checkpoint was taken with batch size {meta.get('batch_size')}, this run has "
                         f"{loop.config.batch_size}: resume with the same batch size")
    position, per_epoch = _number(meta, "position", "progress"), loop.batches_per_epoch
    if position % loop.config.batch_size or step != epoch * per_epoch + position // loop.config.batch_size:
        raise InputError(f"the checkpoint's step {step} and epoch {epoch} do not agree with {per_epoch} batches "
                         f"per epoch: it is corrupted")
    if step > loop.total_steps or (step == loop.total_steps and not meta.get("validating")):
        raise InputError(f"the checkpoint is at step {step} of a run with {loop.total_steps} steps: nothing is "
                         f"left to train; give the run more epochs")
    order = tensors.get("order")
    n = len(loop.x_train)
    if position and (order is None or order.dtype != torch.long or order.shape != (n,)
                     or not torch.equal(order.sort().values, torch.arange(n))):
        raise InputError("the checkpoint's progress has no valid order of the training samples: it is corrupted")
    if not isinstance(meta.get("changes"), list) or not all(isinstance(c, dict) for c in meta["changes"]):
        raise InputError("the checkpoint's progress has a bad list of setting changes: it is corrupted")
    if not isinstance(meta.get("validating"), bool) or (meta.get("best") and not isinstance(meta["best"], dict)):
        raise InputError("the checkpoint's progress is corrupted")


def _set_generators(loop, meta: dict, tensors: dict) -> None:
    """The shuffling/augmentation generators; the dropout one when the run is on the same kind of device."""
    try:
        loop.generator.set_state(tensors["generator"])
        loop.rng.bit_generator.state = meta["numpy_rng"]
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"the checkpoint's random generator states are corrupted: {exc}") from None
    saved = meta.get("dropout_device")
    if loop.dropout_generator is None or "dropout_generator" not in tensors:
        return
    if saved != loop.dropout_generator.device.type:
        loop.run_notes.append(f"the checkpoint was saved on {saved} and resumes on "
                              f"{loop.dropout_generator.device.type}: dropout masks differ from an uninterrupted run")
        return
    try:
        loop.dropout_generator.set_state(tensors["dropout_generator"])
    except RuntimeError as exc:
        raise InputError(f"the checkpoint's dropout generator state is corrupted: {exc}") from None


def _sums(meta: dict) -> tuple[float, float, int]:
    sums = meta.get("epoch_sums")
    if not (isinstance(sums, list) and len(sums) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sums)):
        raise InputError("the checkpoint's progress has bad epoch sums: it is corrupted")
    return float(sums[0]), float(sums[1]), int(sums[2])
