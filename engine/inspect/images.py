"""Safe decoding of uploaded images (size checks before decoding, one frame, grey or RGB arrays), and fitting
an image or a drawing to a model's input: channels, size and the dataset's pixel range."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine import limits
from engine.errors import InputError


@dataclass
class Decoded:
    """An uploaded image as floats in [0, 1]: (H, W) grey or (3, H, W) RGB, plus notes for the user."""

    pixels: np.ndarray
    notes: list[str] = field(default_factory=list)


def decode(data: bytes, mode: str = "L") -> Decoded:
    """Decode image bytes into an array, refusing oversized, corrupt or unsupported files.

    Args:
        data: the uploaded file's bytes.
        mode: "L" for grey, "RGB" to keep colour (alpha is dropped).

    Returns:
        A Decoded image; animated files give their first frame with a note.

    Raises:
        InputError: too many bytes or pixels, not an image, truncated or corrupt.
    """
    if mode not in ("L", "RGB"):
        raise InputError(f'mode must be "L" (grey) or "RGB", got {mode!r}.')
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise InputError(f"The file is {len(data) / 1e6:.1f} MB; the limit is {limits.MAX_UPLOAD_BYTES / 1e6:.0f} MB. "
                         "Upload a smaller image.")
    if not data:
        raise InputError("The file is empty (0 bytes); upload an image.")
    notes = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only: size is known before decoding
            width, height = image.size
            if width * height > limits.MAX_IMAGE_PIXELS:
                raise InputError(f"The image is {width}×{height} = {width * height:,} pixels; the limit is "
                                 f"{limits.MAX_IMAGE_PIXELS:,}. Resize it before uploading.")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
                notes.append(f"The file has {image.n_frames} frames; using the first.")
            image.load()
            image = ImageOps.exif_transpose(image)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"The image has too many pixels; the limit is {limits.MAX_IMAGE_PIXELS:,}. "
                         "Resize it before uploading.") from None
    except UnidentifiedImageError:
        raise InputError("This file is not an image we can read (PNG, JPEG, GIF, BMP or WebP).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"The image is corrupt or truncated ({exc}); try another file.") from None
    if image.mode.startswith(("I", "F")):  # 16/32-bit integer or float: Pillow's convert("L") would clip at 255
        return Decoded(_wide_to_unit(image, mode, notes), notes)
    grey_source = image.mode in ("1", "L", "LA")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema()[0] < 255:
            notes.append("Transparent areas were made white (the image had an alpha channel).")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)  # transparent areas become white, not black
    if grey_source and mode == "RGB":
        notes.append("The grey image was repeated over the 3 colour channels.")
    pixels = np.asarray(image.convert(mode), dtype=np.float64) / 255.0
    if mode == "RGB":
        pixels = pixels.transpose(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    return Decoded(pixels, notes)


def _wide_to_unit(image: Image.Image, mode: str, notes: list[str]) -> np.ndarray:
    """A single-channel 16-bit, 32-bit or float image scaled to [0, 1] by its bit depth (or its range)."""
    values = np.asarray(image, dtype=np.float64)  # (H, W)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if image.mode.startswith("I;16") or (image.mode == "I" and low >= 0 and 255 < high <= 65_535):
        pixels, how = values / 65_535.0, "16-bit values divided by 65,535"
    elif image.mode == "I" and low >= 0 and high <= 255:
        pixels, how = values / 255.0, None
    elif image.mode == "F" and low >= 0 and high <= 1:
        pixels, how = values, None
    else:
        pixels, how = (values - low) / ((high - low) or 1.0), f"values from {low:g} to {high:g} stretched to 0–1"
    pixels = np.clip(np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    if how:
        notes.append(f"A {image.mode} image: {how}.")
    if mode == "RGB":
        notes.append("The grey image was repeated over the 3 colour channels.")
    return np.stack([pixels] * 3) if mode == "RGB" else pixels  # grey repeated as (3, H, W)


def resize(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, str | None]:
    """Shrink (H, W) or (C, H, W) so its longer side is at most `max_side`, keeping the aspect ratio.

    Returns:
        The array and a note such as "Resized from 640×480 to 12×9.", or None when nothing changed.
    """
    height, width = pixels.shape[-2:]
    if max(height, width) <= max_side:
        return pixels, None
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    channels = pixels[None] if pixels.ndim == 2 else pixels
    out = np.stack([np.asarray(Image.fromarray(c.astype(np.float32)).resize(size, Image.Resampling.BILINEAR))
                    for c in channels]).astype(np.float64)
    out = out[0] if pixels.ndim == 2 else out
    return out, f"Resized from {width}×{height} to {size[0]}×{size[1]}."


def fit_to_input(pixels: np.ndarray, input_shape: tuple) -> tuple[np.ndarray, list[str]]:
    """Convert a decoded image (``images.decode``: (H, W) grey or (3, H, W) RGB, in [0, 1]) to a model's input.

    Args:
        pixels: the image.
        input_shape: the model's ``(C, H, W)``.

    Returns:
        float32 ``(C, H, W)`` and notes saying what was done (channels converted, resized), for the user.

    Raises:
        InputError: when the model does not take images.
    """
    if len(input_shape) != 3:
        raise InputError(f"This model takes inputs of shape {tuple(input_shape)}, not images.")
    channels, height, width = input_shape
    x = np.asarray(pixels, dtype=np.float32)
    x = x[None] if x.ndim == 2 else x  # (C0, H0, W0)
    notes = []
    if x.shape[0] != channels:
        if channels == 1:
            x = x.mean(axis=0, keepdims=True)
            notes.append("Converted to grey (the model has one input channel).")
        else:
            x = np.repeat(x.mean(axis=0, keepdims=True), channels, axis=0)
            notes.append(f"Repeated the grey image over the model's {channels} channels.")
    if x.shape[1:] != (height, width):
        notes.append(f"Resized from {x.shape[2]}×{x.shape[1]} to {width}×{height} (the model's input size).")
        x = np.stack([np.asarray(Image.fromarray(c).resize((width, height), Image.Resampling.BILINEAR))
                      for c in x]).astype(np.float32)
    return x, notes


MAX_CANVAS_SIDE = 16  # larger drawing grids make cells too small to click


def canvas_shape(input_shape: tuple) -> tuple[int, int]:
    """The drawing grid for a ``(1, H, W)`` model: the input size, halved until no side exceeds 16 (28 -> 14)."""
    height, width = int(input_shape[-2]), int(input_shape[-1])
    while max(height, width) > MAX_CANVAS_SIDE:
        height, width = max(1, (height + 1) // 2), max(1, (width + 1) // 2)
    return height, width


def paint(grid: np.ndarray, cells, value: float) -> np.ndarray:
    """A copy of the drawing ``grid`` (H, W) with ``cells`` ((row, col) pairs) set to ``value``; others ignored."""
    out = np.array(grid, dtype=np.float32, copy=True)
    height, width = out.shape
    for row, col in cells:
        row, col = int(round(row)), int(round(col))
        if 0 <= row < height and 0 <= col < width:
            out[row, col] = value
    return out


def drawing_to_input(grid: np.ndarray, input_shape: tuple, low: float = 0.0,
                     high: float = 1.0) -> tuple[np.ndarray, list[str]]:
    """A drawing (ink 0..1 per cell) as a model input: pixel range ``[low, high]`` (the dataset's), resized to fit.

    Args:
        grid: ``(h, w)`` ink amounts in [0, 1] (0 blank, 1 full ink).
        input_shape: the model's ``(1, H, W)``.
        low, high: the dataset's pixel values for blank and full ink (digits and MNIST: 0 and 1; X/O: -1 and 1).

    Returns:
        float32 ``(1, H, W)`` and notes for the user.
    """
    ink = np.clip(np.asarray(grid, dtype=np.float32), 0.0, 1.0)
    x, notes = fit_to_input(ink, tuple(input_shape))  # resize the ink, so blank stays exactly blank
    return (low + x * (high - low)).astype(np.float32), notes


def input_to_drawing(x: np.ndarray, shape: tuple[int, int], low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """A sample ``(1, H, W)`` or ``(H, W)`` as ink 0..1 on a drawing grid of ``shape`` (undoes ``drawing_to_input``)."""
    x = np.asarray(x, dtype=np.float32)
    grey = x.mean(axis=0) if x.ndim == 3 else x
    ink = (grey - low) / ((high - low) or 1.0)
    if grey.shape != tuple(shape):
        ink = fit_to_input(ink, (1, *shape))[0][0]
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def to_pixel_range(x: np.ndarray, low: float = 0.0, high: float = 1.0,
                   invert: bool = False) -> tuple[np.ndarray, list[str]]:
    """An image in [0, 1] (``fit_to_input``'s output) in a dataset's pixel range, optionally inverted first.

    Args:
        x: pixels in [0, 1], any shape.
        low, high: the dataset's values for 0 and 1 (digits and MNIST: 0 and 1; X/O: -1 and 1).
        invert: turn dark ink on light paper into light ink on dark, as digit datasets store it.

    Returns:
        float32 pixels of the same shape, and notes for the user.
    """
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    notes = []
    if invert:
        x = 1.0 - x
        notes.append("Inverted: dark became light and light became dark.")
    if (low, high) != (0.0, 1.0):
        notes.append(f"Pixel values 0 to 1 mapped to {low:g} to {high:g}, the dataset's range.")
    return (low + x * (high - low)).astype(np.float32), notes
