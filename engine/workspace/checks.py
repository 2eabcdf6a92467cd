"""Tokens, join codes and the checks every value passes before it reaches the database."""
from __future__ import annotations

import hashlib
import json
import numbers
import re
import secrets

import numpy as np

from engine.workspace.errors import MalformedToken, UnknownJoinCode, WorkspaceError
from engine.workspace.records import RUN_STATES, RunRecord

_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 random bits
# Join codes are read off a projector and typed: no 0/O, 1/I/L look-alikes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_NAME = 100
MAX_DEPTH = 32  # JSON nesting: pages write 6 levels or so; ~1,000 breaks json and every page that reads it
# A run's test results as the Train page stores them (ui.saved_runs): nothing else is read back.
RESULT_KEYS = ("loss", "accuracy", "confusion", "misclassified", "predicted")
MAX_WRONG = 24  # misclassified samples kept with a run (ui.core.saved_runs.SHOWN_WRONG)
MAX_CLASSES = 1000  # a confusion matrix's side: a character model's vocabulary at most (engine.data.MAX_VOCAB)
MAX_INDEX = 2 ** 31  # a test sample's index
CONTEXT_KEYS = ("end", "message", "key", "shared", "imported")  # imported: set by files.read, never by pages
# Metric record fields pages draw and tabulate: numbers (or null) whenever present.
METRIC_KEYS = ("step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed", "eta")
MODEL_KEYS = ("trained", "dataset", "adopted", "run")  # what pages write about the workspace's model


def new_token() -> str:
    """A fresh capability token (URL-safe, unguessable)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256, so a copy of the database opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_digest(token, what: str = "workspace") -> str:
    """The digest of a well-formed token; MalformedToken for anything else (cut short, edited, not text)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise MalformedToken(f"This {what} link is damaged: its token should be 32 or more letters, digits, "
                             f"'-' or '_'. Copy the whole link again.")
    return digest(token)


def ip_digest(ip: str | None) -> str | None:
    """The visitor's address, hashed: kept only an hour, for the per-address creation cap."""
    return None if not ip else hashlib.sha256(f"playground-ip:{ip}".encode()).hexdigest()


def new_join_code() -> str:
    """A short code students type to join a class."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def join_code(code) -> str:
    """A typed join code normalised (case, spaces and dashes ignored); UnknownJoinCode when it cannot be one."""
    text = re.sub(r"[\s-]", "", code if isinstance(code, str) else "").upper()
    if len(text) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in text):
        raise UnknownJoinCode(f"{str(code)[:20]!r} is not a join code: join codes are {CODE_LENGTH} letters and "
                              f"digits, like {new_join_code()}. Check it with your teacher.")
    return text


def name(value, what: str, limit: int = MAX_NAME) -> str:
    """A display or class name: 1 to ``limit`` printable characters, surrounding spaces dropped."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit or not text.isprintable():
        raise WorkspaceError(f"The {what} should be 1 to {limit} printable characters.")
    return text


def json_value(value, what: str, optional: bool = True) -> tuple[object, int]:
    """A JSON object (or None when ``optional``) and its size as stored; WorkspaceError for anything else."""
    if value is None and optional:
        return None, 0
    if not isinstance(value, dict):
        raise WorkspaceError(f"The {what} should be a JSON object (a dict), not {type(value).__name__}.")
    if depth(value) > MAX_DEPTH:
        raise WorkspaceError(f"The {what} is nested more than {MAX_DEPTH} levels deep; pages never write that.")
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise WorkspaceError(f"The {what} cannot be saved: it is not plain JSON ({exc}).") from None
    return value, len(text.encode())


def size_text(size: int) -> str:
    """A byte count as people read it: KiB below a MiB, MiB above."""
    return f"{size / 2**20:,.1f} MiB" if size >= 2 ** 20 else f"{size / 1024:,.0f} KiB"


def blob(value, what: str) -> bytes | None:
    """Bytes or None."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise WorkspaceError(f"The {what} should be bytes, not {type(value).__name__}.")


def run(record: RunRecord) -> int:
    """Check a run's fields before it is stored; returns the size of its JSON fields.

    Raises:
        WorkspaceError: a field of the wrong type, an unknown state, a number that is not a whole number ≥ 0.
    """
    if not isinstance(record, RunRecord):
        raise WorkspaceError(f"save_run takes a RunRecord, not {type(record).__name__}.")
    if not isinstance(record.number, int) or isinstance(record.number, bool) or not 0 <= record.number < 2 ** 31:
        raise WorkspaceError(f"A run's number should be a whole number from 0, not {record.number!r}.")
    if record.state not in RUN_STATES:
        raise WorkspaceError(f"Run {record.number}'s state {record.state!r} is not one of {', '.join(RUN_STATES)}.")
    for field, limit in (("group", 32), ("label", 200)):
        value = getattr(record, field)
        # PostgreSQL's text columns cannot hold NUL: refused here on every backend, not an "outage" on one
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            raise WorkspaceError(f"Run {record.number}'s {field} should be text of at most {limit} characters "
                                 f"without NUL characters.")
    if not isinstance(record.records, list):
        raise WorkspaceError(f"Run {record.number}'s records should be a list of dicts.")
    size = sum(json_value(getattr(record, f), f"run {record.number}'s {f}", optional)[1]
               for f, optional in (("spec", False), ("config", False), ("results", True), ("context", True)))
    blob(record.weights, f"run {record.number}'s weights")
    blob(record.optimizer, f"run {record.number}'s optimizer state")
    if record.adopt is not None:
        json_value(record.adopt, f"run {record.number}'s model", optional=False)
        if record.weights is None:
            raise WorkspaceError(f"Run {record.number} can become the workspace's model only with its weights.")
    return size


def depth(value) -> int:
    """How deeply lists and dicts nest in ``value`` (0 for a number), level by level without recursion; counting
    stops past ``MAX_DEPTH``."""
    deepest, level = 0, [value] if isinstance(value, dict | list) else []
    while level and deepest <= MAX_DEPTH:
        deepest += 1
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, dict | list)]
    return deepest


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _real(value) -> bool:
    """A number as records hold them (numpy scalars included), never a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _indices(value, bound: int) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < bound
                                           for v in value)


def results(value, number) -> None:
    """A run's test results in the shape the Train page writes, or None; WorkspaceError naming what is wrong."""
    if value is None:
        return
    where = f"Run {number}'s test results"
    if not isinstance(value, dict):
        raise WorkspaceError(f"{where} should be a JSON object, not {type(value).__name__}.")
    if unknown := [str(k)[:40] for k in value if k not in RESULT_KEYS]:
        raise WorkspaceError(f"{where} hold {', '.join(unknown)}: only {', '.join(RESULT_KEYS)} are kept.")
    if not _number(value.get("loss")):
        raise WorkspaceError(f"{where} need a loss that is a number.")
    accuracy = value.get("accuracy")
    if accuracy is not None and not (_number(accuracy) and 0 <= accuracy <= 1):
        raise WorkspaceError(f"{where}: accuracy should be a number from 0 to 1 (or null), not {str(accuracy)[:40]}.")
    confusion, classes = value.get("confusion"), MAX_INDEX
    if confusion is not None:
        classes = len(confusion) if isinstance(confusion, list) else 0
        if not 1 <= classes <= MAX_CLASSES or not all(_indices(row, MAX_INDEX) and len(row) == classes
                                                      for row in confusion):
            raise WorkspaceError(f"{where}: the confusion matrix should be square, 1 to {MAX_CLASSES} classes a "
                                 f"side, of counts.")
    wrong, predicted = value.get("misclassified", []), value.get("predicted", [])
    if not _indices(wrong, MAX_INDEX) or len(wrong) > MAX_WRONG:
        raise WorkspaceError(f"{where}: misclassified should list at most {MAX_WRONG} sample numbers.")
    if not _indices(predicted, classes) or len(predicted) not in (0, len(wrong)):
        raise WorkspaceError(f"{where}: predicted should hold one class per misclassified sample.")


def context(value, number) -> None:
    """A run's context in the shape pages write (ui.saved_runs), or None; WorkspaceError naming what is wrong."""
    if value is None:
        return
    where = f"Run {number}'s context"
    if not isinstance(value, dict):
        raise WorkspaceError(f"{where} should be a JSON object, not {type(value).__name__}.")
    if depth(value) > MAX_DEPTH:
        raise WorkspaceError(f"{where} is nested more than {MAX_DEPTH} levels deep; pages never write that.")
    if unknown := [str(k)[:40] for k in value if k not in CONTEXT_KEYS]:
        raise WorkspaceError(f"{where} holds {', '.join(unknown)}: only {', '.join(CONTEXT_KEYS)} are kept.")
    end = value.get("end")
    if end is not None and not (isinstance(end, dict) and set(end) <= {"step", "epoch", "elapsed"}
                                and all(v is None or _number(v) for v in end.values())):
        raise WorkspaceError(f"{where}: end should hold the step, epoch and elapsed time it ended at.")
    if not isinstance(value.get("message", ""), str) or len(value.get("message", "")) > 2000:
        raise WorkspaceError(f"{where}: message should be text of at most 2,000 characters.")
    if not isinstance(value.get("key", []), list | type(None)):
        raise WorkspaceError(f"{where}: key should be a list.")
    if not isinstance(value.get("shared", {}), dict | type(None)):
        raise WorkspaceError(f"{where}: shared should be a JSON object.")
    if not isinstance(value.get("imported", False), bool):
        raise WorkspaceError(f"{where}: imported should be true or false.")


def records(value: list, number) -> None:
    """A run's metric records as the training loop writes them; WorkspaceError naming the first field that is not."""
    for i, record in enumerate(value):
        where = f"Run {number}'s record {i}"
        if not isinstance(record, dict):
            raise WorkspaceError(f"Run {number}'s records should be a list of JSON objects (record {i} is not).")
        kind = record.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise WorkspaceError(f"{where}: kind should be text, like \"step\" or \"epoch\".")
        if kind in ("step", "epoch") and "epoch" not in record:
            raise WorkspaceError(f"{where}: a {kind} record needs its epoch.")
        for key in METRIC_KEYS:
            if record.get(key) is not None and not _real(record[key]):
                raise WorkspaceError(f"{where}: {key} should be a number, not {str(record[key])[:40]!r}.")
        norms = record.get("grad_norm")
        if norms is not None and not (isinstance(norms, dict) and all(v is None or _real(v) for v in norms.values())):
            raise WorkspaceError(f"{where}: grad_norm should map layers to numbers.")


def model(value) -> None:
    """What the workspace says about its model, as pages write it, or None; WorkspaceError otherwise."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise WorkspaceError(f"The model should be a JSON object, not {type(value).__name__}.")
    if unknown := [str(k)[:40] for k in value if k not in MODEL_KEYS]:
        raise WorkspaceError(f"The model holds {', '.join(unknown)}: only {', '.join(MODEL_KEYS)} are kept.")
    if not isinstance(value.get("trained", False), bool):
        raise WorkspaceError("The model's trained should be true or false.")
    if not _indices(value.get("adopted", []), MAX_INDEX):
        raise WorkspaceError("The model's adopted should list run numbers.")
    if not isinstance(value.get("dataset"), dict | type(None)):
        raise WorkspaceError("The model's dataset should be a JSON object.")


def readable_model(value) -> dict:
    """A stored model description when ``model`` accepts it, else {} (untrained): pages never raise on it."""
    try:
        model(value)
    except WorkspaceError:
        return {}
    return value or {}


def readable_results(value, number) -> dict | None:
    """Stored test results when ``results`` accepts them, else None: views never raise on stored data."""
    return _readable(results, value, number)


def readable_context(value, number) -> dict | None:
    """A stored context when ``context`` accepts it, else None: views never raise on stored data."""
    return _readable(context, value, number)


def _readable(check, value, number):
    try:
        check(value, number)
    except WorkspaceError:
        return None
    return value
