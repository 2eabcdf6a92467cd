"""Metric records stored compactly: one column per key, numbers as raw float64/int64 arrays, the whole zlib'd.

A run's records (``engine.training`` emits a dict every few steps: floats, ints, None, strings, per-layer dicts,
sometimes small lists or numpy arrays) become one blob instead of a row per step. Every value comes back exactly:
floats bit for bit (NaN, ±inf and -0.0 included), ints as ints, numpy arrays and scalars with their dtype; tuples
come back as lists. ``to_jsonable``/``from_jsonable`` give the same values as plain JSON for workspace files.
"""
from __future__ import annotations

import json
import math
import struct
import zlib

import numpy as np

FORMAT = 1


class _Missing:
    """The type of ``_MISSING``: a record without this key, unlike a present None."""


_MISSING = _Missing()
_ABSENT, _NONE = 0, 1  # row codes; a value of group g is 2 + g
_INT64 = (-2 ** 63, 2 ** 63)
_ARRAY_KINDS = "biuf"  # bool, int, uint, float arrays; never object, string or void dtypes


class _Buffers:
    """The binary part of a blob: arrays appended one after another, referenced by (offset, length)."""

    def __init__(self, data: bytes = b""):
        self.parts: list[bytes] = []
        self.size = 0
        self.data = data

    def add(self, raw: bytes) -> list[int]:
        self.parts.append(raw)
        self.size += len(raw)
        return [self.size - len(raw), len(raw)]

    def get(self, ref, dtype: str) -> np.ndarray:
        start, length = int(ref[0]), int(ref[1])
        if start < 0 or length < 0 or start + length > len(self.data) or length % np.dtype(dtype).itemsize:
            raise ValueError("a column points outside the blob")
        return np.frombuffer(self.data, dtype=dtype, count=length // np.dtype(dtype).itemsize, offset=start)


def pack(records: list[dict]) -> bytes:
    """Records as one compressed blob.

    Args:
        records: metric record dicts (string keys).

    Returns:
        The blob ``unpack`` reads back.

    Raises:
        TypeError: a value that is not a number, string, bool, None, dict, list, tuple or numeric numpy array.
    """
    if not all(isinstance(r, dict) for r in records):
        raise TypeError("every metric record must be a dict")
    buffers = _Buffers()
    meta = {"v": FORMAT, "n": len(records), "c": _encode_dicts(list(records), buffers, "record")}
    head = json.dumps(meta, separators=(",", ":")).encode()
    return zlib.compress(struct.pack("<I", len(head)) + head + b"".join(buffers.parts), 1)


def unpack(blob: bytes) -> list[dict]:
    """The records ``pack`` stored (the store's own blobs: files from outside come in as JSON).

    Raises:
        ValueError: a damaged blob.
    """
    raw = zlib.decompress(blob)
    (size,) = struct.unpack_from("<I", raw)
    meta = json.loads(raw[4:4 + size])
    if meta.get("v") != FORMAT:
        raise ValueError(f"records stored in format {meta.get('v')!r}, this server reads format {FORMAT}")
    return _decode_dicts(meta["c"], int(meta["n"]), _Buffers(raw[4 + size:]))


# ------------------------------------------------------------------------------------------- encoding
def _kind(kind_type: type, where: str) -> str:
    """The group values of this type are stored in (ints out of int64's range move to "j" later)."""
    if issubclass(kind_type, np.ndarray | np.generic):  # before float: np.float64 is a float subclass
        return "a"
    for base, kind in ((bool, "b"), (int, "i"), (float, "f"), (str, "s"), (dict, "d"), (list, "l"), (tuple, "l")):
        if issubclass(kind_type, base):
            return kind
    raise TypeError(f"{where} holds a {kind_type.__name__}, which a metric record cannot store")


def _encode_column(values: list, buffers: _Buffers, where: str) -> dict:
    """One key's values over all rows: a row code per row, and one encoded group per kind of value."""
    types = set(map(type, values))
    if types == {float}:  # the common case (a loss, an accuracy): no per-row work in Python
        return {"m": 2, "g": [["f", buffers.add(np.asarray(values, dtype="<f8").tobytes())]]}
    order: list[str] = []
    code_of = {_Missing: _ABSENT, type(None): _NONE}
    for value_type in types - code_of.keys():
        kind = _kind(value_type, where)
        order += [kind] if kind not in order else []
        code_of[value_type] = 2 + order.index(kind)
    codes = np.fromiter(map(code_of.__getitem__, map(type, values)), dtype=np.uint8, count=len(values))
    groups = []
    for g, kind in enumerate(order):
        rows = np.flatnonzero(codes == 2 + g).tolist()
        group = [values[i] for i in rows] if len(rows) < len(values) else values
        if kind == "i" and not all(_INT64[0] <= v < _INT64[1] for v in group):
            kind = "j"  # ints past int64 are kept as text
        groups.append([kind, _encode_group(kind, group, buffers, where)])
    same = len(values) and bool((codes == codes[0]).all())
    return {"m": int(codes[0]) if same else buffers.add(codes.tobytes()), "g": groups}


def _encode_group(kind: str, values: list, buffers: _Buffers, where: str):
    if kind == "f":
        return buffers.add(np.asarray(values, dtype="<f8").tobytes())
    if kind == "i":
        return buffers.add(np.asarray(values, dtype="<i8").tobytes())
    if kind == "b":
        return buffers.add(np.asarray(values, dtype=np.uint8).tobytes())
    if kind == "s":  # a few distinct strings ("step", "epoch") repeated: each written once
        distinct = list(dict.fromkeys(values))
        index = {text: i for i, text in enumerate(distinct)}
        return {"u": distinct, "i": buffers.add(np.asarray([index[v] for v in values], dtype="<u4").tobytes())}
    if kind == "j":
        return [str(v) for v in values]
    if kind == "d":
        return _encode_dicts(values, buffers, where)
    if kind == "l":
        lengths = buffers.add(np.asarray([len(v) for v in values], dtype="<i8").tobytes())
        items = [item for v in values for item in v]
        return {"len": lengths, "items": _encode_column(items, buffers, f"a list in {where}")}
    arrays = [np.ascontiguousarray(v) for v in values]
    refused = [a.dtype for a in arrays if a.dtype.kind not in _ARRAY_KINDS]
    if refused:
        raise TypeError(f"{where} holds a numpy {refused[0]} value; only numeric arrays can be stored")
    return {"dt": [a.dtype.str for a in arrays], "sh": [list(a.shape) if isinstance(v, np.ndarray) else None
                                                       for a, v in zip(arrays, values)],
            "data": buffers.add(b"".join(a.tobytes() for a in arrays))}


def _encode_dicts(dicts: list[dict], buffers: _Buffers, where: str) -> dict:
    """Dicts as [key, column] pairs over the union of their keys, plus each dict's key order when they differ."""
    keys: dict = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{where} has a key {bad[0]!r} that is not a string")
    out = {"c": [[key, _encode_column([d.get(key, _MISSING) for d in dicts], buffers, f"{where} key {key!r}")]
                 for key in keys]}
    orders = [tuple(d) for d in dicts]
    distinct = list(dict.fromkeys(orders))
    if distinct and distinct != [tuple(keys)]:  # step and epoch records list their keys differently
        index = {order: i for i, order in enumerate(distinct)}
        out["o"] = {"k": [list(order) for order in distinct],
                    "i": buffers.add(np.asarray([index[o] for o in orders], dtype="<u4").tobytes())}
    return out


# ------------------------------------------------------------------------------------------- decoding
def _decode_column(column: dict, n: int, buffers: _Buffers) -> list:
    """The values of one column for ``n`` rows, ``_MISSING`` where a row lacks the key."""
    mask, bodies = column["m"], column["g"]
    if isinstance(mask, int):
        if mask < 2:
            return [_MISSING if mask == _ABSENT else None] * n
        if mask - 2 >= len(bodies):
            raise ValueError("a column refers to a group it does not have")
        return _decode_group(*bodies[mask - 2], n, buffers)
    codes = buffers.get(mask, "u1").tolist()
    if len(codes) != n or any(c - 2 >= len(bodies) for c in codes):
        raise ValueError("a column's row codes do not match its records")
    groups = [iter(_decode_group(kind, body, codes.count(2 + g), buffers)) for g, (kind, body) in enumerate(bodies)]
    return [_MISSING if c == _ABSENT else None if c == _NONE else next(groups[c - 2]) for c in codes]


def _decode_group(kind: str, body, count: int, buffers: _Buffers) -> list:
    """``count`` values of one kind."""
    if kind in ("f", "i", "b"):
        values = buffers.get(body, {"f": "<f8", "i": "<i8", "b": "u1"}[kind]).tolist()
        values = [bool(v) for v in values] if kind == "b" else values
    elif kind == "s":
        distinct = body["u"]
        if not all(isinstance(v, str) for v in distinct):
            raise ValueError("a text column holds something else")
        values = [distinct[i] for i in buffers.get(body["i"], "<u4").tolist()]
    elif kind == "j":
        values = [int(v) for v in body]
    elif kind == "d":
        values = _decode_dicts(body, count, buffers)
    elif kind == "l":
        lengths = buffers.get(body["len"], "<i8").tolist()
        if any(length < 0 for length in lengths):
            raise ValueError("a negative list length")
        items = iter(_decode_column(body["items"], sum(lengths), buffers))
        values = [[next(items) for _ in range(length)] for length in lengths]
    elif kind == "a":
        values = _decode_arrays(body, buffers)
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    if len(values) != count:
        raise ValueError("a column's length does not match its records")
    return values


def _decode_arrays(body: dict, buffers: _Buffers) -> list:
    data = buffers.get(body["data"], "u1")
    out, start = [], 0
    for dt, shape in zip(body["dt"], body["sh"], strict=True):
        dtype = np.dtype(dt)
        if dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"an array of dtype {dt} cannot be stored")
        dims = None if shape is None else [int(s) for s in shape]
        count = 1 if dims is None else math.prod(dims)
        if count < 0 or start + count * dtype.itemsize > len(data):
            raise ValueError("an array points outside the blob")
        flat = data[start:start + count * dtype.itemsize].view(dtype).copy()
        start += count * dtype.itemsize
        out.append(flat[0] if dims is None else flat.reshape(dims))
    return out


def _decode_dicts(body: dict, count: int, buffers: _Buffers) -> list[dict]:
    """``count`` dicts from their columns, each with its keys in its original order."""
    rows: list[dict] = [{} for _ in range(count)]
    for key, column in body["c"]:
        if not isinstance(key, str):
            raise ValueError("a record key that is not a string")
        for row, value in zip(rows, _decode_column(column, count, buffers)):
            if value is not _MISSING:
                row[key] = value
    if "o" in body:
        orders = body["o"]["k"]
        index = buffers.get(body["o"]["i"], "<u4").tolist()
        if len(index) != count:
            raise ValueError("the key orders do not match the records")
        rows = [{key: row[key] for key in orders[i]} for row, i in zip(rows, index)]
    return rows


# ------------------------------------------------------------------------------------------- as plain JSON
_ARRAY_TAG = "__ndarray__"


def to_jsonable(value):
    """Records (or any value ``pack`` accepts) as JSON values: numpy arrays and scalars become tagged objects.

    Non-finite floats stay floats: ``json.dumps`` writes them as NaN/Infinity, which Python and pandas read.
    """
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        return {_ARRAY_TAG: array.reshape(-1).tolist(), "dtype": array.dtype.str,
                "shape": list(array.shape) if isinstance(value, np.ndarray) else None}
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return value


def plain_part(value):
    """``to_jsonable`` of what is plain data in ``value``: dict entries holding anything else are left out.

    A page's context of a run (``RunRecord.context``) holds numbers, arrays and texts to keep, next to models
    and tensors it rebuilds when needed; only the first kind is stored. Tuples become lists.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            try:
                out[str(key)] = plain_part(item)
            except TypeError:
                continue
        return out
    if isinstance(value, list | tuple):
        return [plain_part(item) for item in value]
    if isinstance(value, np.ndarray | np.generic):
        if np.asarray(value).dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"an array of dtype {np.asarray(value).dtype} is not plain data")
        return to_jsonable(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{type(value).__name__} is not plain data")


def from_jsonable(value):
    """The values ``to_jsonable`` wrote, arrays rebuilt with their dtype and shape.

    Raises:
        ValueError: a tagged array that is malformed (unknown dtype, wrong element count, not numbers).
    """
    if isinstance(value, dict):
        if _ARRAY_TAG in value:
            return _array(value)
        return {key: from_jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_jsonable(item) for item in value]
    return value


def _array(tagged: dict):
    items, shape = tagged[_ARRAY_TAG], tagged.get("shape")
    dtype = np.dtype(str(tagged.get("dtype")))
    if dtype.kind not in _ARRAY_KINDS:
        raise ValueError(f"an array of dtype {dtype} cannot be stored")
    if not isinstance(items, list) or not all(isinstance(v, int | float) for v in items):
        raise ValueError("an array's items must be a flat list of numbers")
    dims = None if shape is None else [int(s) for s in shape]
    if len(items) != (1 if dims is None else math.prod(dims)) or (dims and min(dims) < 0):
        raise ValueError("an array's shape does not match its items")
    flat = np.array(items, dtype=dtype)
    return flat[0] if dims is None else flat.reshape(dims)
