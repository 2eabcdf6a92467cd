"""Encode a spec into a short URL-safe token and back, refusing tampered or oversized tokens."""
from __future__ import annotations

import base64
import binascii
import zlib

from engine import limits
from engine.errors import SpecError
from engine.network import presets
from engine.network.spec import ModelSpec

MAX_TOKEN_CHARS = 16_000


def encode(spec: ModelSpec) -> str:
    """``p.<name>`` for an unedited preset, else ``z.<base64url(zlib(json))>``."""
    for name in presets.names():
        if presets.get(name) == spec:
            return f"p.{name}"
    raw = zlib.compress(spec.to_json(indent=None).encode(), 9)
    return "z." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> ModelSpec:
    """The spec a token encodes.

    Raises:
        SpecError: for an unknown preset, a corrupt token, or one that inflates past the spec size cap.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise SpecError("the shared link is too long or malformed")
    kind, _, body = token.partition(".")
    if kind == "p":
        if body not in presets.names():
            raise SpecError(f"the shared link names an unknown preset {body[:30]!r}")
        return presets.get(body)
    if kind != "z":
        raise SpecError("the shared link is not a playground network")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, limits.MAX_SPEC_BYTES + 1)  # bounded: no zip bombs
        if len(text) > limits.MAX_SPEC_BYTES or inflater.unconsumed_tail:
            raise SpecError("the shared network is larger than this server accepts")
        if not inflater.eof:  # cut short: without this a link missing its checksum still opened
            raise zlib.error("incomplete stream")
        return ModelSpec.from_json(text.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError("the shared link is damaged (it does not decode); ask for a fresh link") from None
