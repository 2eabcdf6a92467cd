"""Tokens, join codes and the checks every value passes before it reaches the database."""
from __future__ import annotations

import hashlib
import json
import re
import secrets

from engine.workspace.errors import MalformedToken, UnknownJoinCode, WorkspaceError
from engine.workspace.records import RUN_STATES, RunRecord

_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 random bits
# Join codes are read off a projector and typed: no 0/O, 1/I/L look-alikes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_NAME = 100


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
        if not isinstance(value, str) or len(value) > limit:
            raise WorkspaceError(f"Run {record.number}'s {field} should be text of at most {limit} characters.")
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
