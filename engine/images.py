"""Safe decoding of uploaded images: size checks before decoding, one frame, grey or RGB arrays."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import limits
from .errors import InputError


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
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)  # transparent areas become white, not black
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
