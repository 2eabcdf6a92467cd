"""Character datasets for next-character prediction: the "hello" toy, the Zen of Python, and uploaded text."""
from __future__ import annotations

import ast
import codecs
import contextlib
import importlib.util
import io

import numpy as np
import torch

from engine import limits
from engine.data.base import Dataset
from engine.errors import InputError

MAX_VOCAB = 1000  # distinct characters; more is not a character-level language any more
MAX_WINDOWS = {"train": 20_000, "val": 4_000, "test": 4_000}  # per split: keeps big uploads trainable on a CPU
_ALLOWED_CONTROLS = {9, 10, 12, 13}  # tab, newline, form feed, carriage return


def hello() -> Dataset:
    """Karpathy's four-letter example: the input "hell" should predict "ello" (one sequence, vocab h, e, l, o)."""
    vocab = ["h", "e", "l", "o"]
    ids = torch.tensor([[vocab.index(c) for c in "hello"]])  # (1, 5)
    x, y = ids[:, :-1], ids[:, 1:]  # (1, 4) each
    return Dataset("hello", "char", (4,), x, y, x.clone(), y.clone(), x.clone(), y.clone(), classes=list(vocab),
                   vocab=list(vocab), description="The 'hello' toy: one sequence, input h e l l, targets e l l o, "
                   "over the 4-letter vocabulary h, e, l, o. The network must tell the first 'l' (next: l) from the "
                   "second (next: o), so it needs its hidden state. Validation and test repeat the same sequence.")


def zen_text() -> str:
    """The Zen of Python, decoded (rot13) from the standard library's ``this`` module without printing it."""
    spec = importlib.util.find_spec("this")
    try:
        with open(spec.origin, encoding="utf-8") as f:  # read the source: importing `this` prints the poem
            tree = ast.parse(f.read())
        encoded = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                       and any(isinstance(t, ast.Name) and t.id == "s" for t in node.targets))
    except (OSError, TypeError, StopIteration, AttributeError, SyntaxError):
        with contextlib.redirect_stdout(io.StringIO()):  # no source file (frozen stdlib): import it quietly
            import this
        encoded = this.s
    return codecs.decode(encoded, "rot13")


def zen(rng: np.random.Generator, seq_len: int) -> Dataset:
    """Windows of the Zen of Python for next-character prediction."""
    text = zen_text()
    return text_dataset("zen", text, seq_len, rng,
                        f"The Zen of Python ({len(text)} characters, from the standard library's `this` module). ")


def decode_upload(data: bytes | str) -> str:
    """An uploaded .txt as text: UTF-8 (a BOM is fine), newlines normalised; a clear InputError otherwise."""
    if isinstance(data, str):
        size = len(data.encode("utf-8", errors="surrogatepass"))
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        size = len(data)
        text = None
    else:
        raise InputError(f"expected the text of a .txt file, not {type(data).__name__}")
    if size == 0:
        raise InputError("the file is empty; upload a .txt file with some text in it")
    if size > limits.MAX_UPLOAD_BYTES:
        raise InputError(f"the file is {size:,} bytes; the limit is {limits.MAX_UPLOAD_BYTES:,} bytes. "
                         f"Upload a shorter text")
    if text is None:
        if b"\x00" in data:
            raise InputError("the file contains NUL bytes: it looks like a binary file, not text. Upload a .txt file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start:,} "
                             f"cannot be decoded); it may be a binary file. Save it as UTF-8 plain text") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    controls = ((codes < 32) | ((codes >= 127) & (codes < 160))) & ~np.isin(codes, list(_ALLOWED_CONTROLS))
    surrogates = (codes >= 0xD800) & (codes < 0xE000)
    if surrogates.any() or controls.sum() > max(0, 0.01 * len(codes)) or (codes == 0).any():
        bad = int(controls.sum() + surrogates.sum())
        raise InputError(f"the text has {bad:,} control or invalid character{'s' if bad != 1 else ''}: "
                         f"it looks like a binary file, not text. Upload a plain .txt file")
    if not text.strip():
        raise InputError("the file has only whitespace; upload a .txt file with some text in it")
    return text


def text_dataset(name: str, text: str, seq_len: int, rng: np.random.Generator, intro: str) -> Dataset:
    """Cut text into train/val/test stretches (70/15/15 by position) and slide windows of seq_len + 1 characters.

    Splitting by position, not by window, keeps overlapping windows from leaking text between splits.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alphabet = np.unique(codes)
    if len(alphabet) > MAX_VOCAB:
        raise InputError(f"the text uses {len(alphabet):,} distinct characters; a character model here handles at "
                         f"most {MAX_VOCAB:,}. Upload text in one alphabet")
    window = seq_len + 1
    n = len(codes)
    hold = max(window, int(round(0.15 * n)))  # each of val and test
    if n - 2 * hold < window:
        fits = n // 3 - 1  # the longest seq_len this text allows
        fix = f"lower seq_len to {fits} or less, or use a longer text" if fits >= 4 else "use a longer text"
        raise InputError(f"the text has {n:,} character{'s' if n != 1 else ''}; with seq_len {seq_len} the train, "
                         f"validation and test parts need at least {3 * window:,} together: {fix}")
    ids = np.searchsorted(alphabet, codes).astype(np.int64)
    bounds = {"train": (0, n - 2 * hold), "val": (n - 2 * hold, n - hold), "test": (n - hold, n)}
    tensors = []
    for split, (a, b) in bounds.items():
        starts = rng.permutation(np.arange(a, b - window + 1))[:MAX_WINDOWS[split]]
        chunks = ids[starts[:, None] + np.arange(window)]  # (N, T+1)
        tensors += [torch.from_numpy(chunks[:, :-1].copy()), torch.from_numpy(chunks[:, 1:].copy())]
    vocab = [chr(c) for c in alphabet]
    shown = "".join(v if v.isprintable() and v != " " else {" ": "␣", "\n": "↵", "\t": "⇥"}.get(v, "·")
                    for v in vocab[:60])
    return Dataset(name, "char", (seq_len,), *tensors, classes=list(vocab), vocab=vocab, description=(
        f"{intro}Next-character prediction: each sample is {seq_len} characters and the targets are the same "
        f"characters shifted one ahead (teacher forcing). Vocabulary of {len(vocab)}: {shown}"
        f"{'…' if len(vocab) > 60 else ''}. The text is split by position: the first 70% trains, the next 15% "
        f"validates, the last 15% tests."))
