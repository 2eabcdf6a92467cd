"""Bad uploads: not images, truncated, decompression bombs, odd formats, empty files, binary text, foreign weights,
pickles disguised as weights.

Images go through engine.inspect.images.decode (the Convolution and Inspect pages' uploaders use it), texts through
engine.data.from_text, weights through engine.training.load_weights. Each is refused with a message a student
can act on, or read correctly with a note; nothing is ever unpickled.
"""
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from engine import data, limits
from engine.inspect import images
from engine.training import load_weights, save_weights

ROOT = Path(__file__).resolve().parents[2]
INSPECT = str(ROOT / "views" / "4_Inspect.py")
CONV = str(ROOT / "views" / "2_Convolution.py")


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def _png(size=(40, 30), mode="RGB") -> bytes:
    return _save(Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128), "PNG")


def _bomb(width: int, height: int) -> bytes:
    """A real PNG of width×height 1-bit pixels: a few hundred KB on disk, width·height pixels decoded."""
    return _save(Image.new("1", (width, height), 0), "PNG", optimize=False)


def _gif(frames: int = 3) -> bytes:
    images_ = [Image.new("L", (16, 16), 40 * i) for i in range(frames)]
    return _save(images_[0], "GIF", save_all=True, append_images=images_[1:], duration=100, loop=0)


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(np.random.default_rng(0).integers(0, 256, 4000,
                                                                                                 dtype=np.uint8))

# name -> (bytes, words of the InputError); refused before or while decoding
REFUSED = {
    "plain text": (b"hello, this is not an image", "not an image"),
    "renamed .exe": (EXE, "not an image"),
    "zip archive": (b"PK\x03\x04" + bytes(200), "not an image"),
    "0-byte file": (b"", "empty"),
    "truncated PNG": (_png()[:60], "corrupt or truncated"),
    "PNG with a broken body": (_png()[:40] + bytes(200) + _png()[240:], "corrupt|not an image"),
    "10,000×10,000 PNG (decompression bomb)": (_bomb(10_000, 10_000), "pixels"),
    "40-megapixel photo": (_bomb(8_000, 5_000), "pixels"),
    "over the upload cap": (b"\x89PNG" + bytes(limits.MAX_UPLOAD_BYTES), "MB"),
}

# name -> (bytes, expected mean grey in [0, 1], words of a note or None)
READ = {
    "animated GIF": (_gif(), 0.0, "frames"),
    "16-bit grey TIFF": (_save(Image.fromarray(np.full((16, 16), 32_768, np.uint16)), "TIFF"), 0.5, "16-bit"),
    "16-bit grey PNG": (_save(Image.fromarray(np.full((16, 16), 65_535, np.uint16)), "PNG"), 1.0, "16-bit"),
    "float TIFF": (_save(Image.fromarray(np.full((16, 16), 0.25, np.float32), "F"), "TIFF"), 0.25, None),
    "CMYK JPEG": (_save(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), "JPEG", quality=100), 1.0, None),
    "palette PNG with transparency": (_save(Image.new("P", (16, 16), 0), "PNG", transparency=0), 1.0, None),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_bad_images_are_refused_with_a_clear_message(name):
    payload, words = REFUSED[name]
    with pytest.raises(engine.InputError, match=words):
        images.decode(payload)


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("name", list(READ))
def test_odd_images_are_read_into_0_1_with_a_note(name, mode):
    payload, mean, note = READ[name]
    decoded = images.decode(payload, mode)
    assert decoded.pixels.shape == ((16, 16) if mode == "L" else (3, 16, 16))
    assert 0.0 <= decoded.pixels.min() and decoded.pixels.max() <= 1.0
    assert decoded.pixels.mean() == pytest.approx(mean, abs=0.02)
    if note:
        assert any(note in n for n in decoded.notes), decoded.notes


def test_a_bomb_is_refused_before_its_pixels_are_allocated():
    import tracemalloc

    payload = _bomb(10_000, 10_000)
    tracemalloc.start()
    with pytest.raises(engine.InputError):
        images.decode(payload)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20  # the 100-megapixel image would need 100 MB as grey bytes


# ------------------------------------------------------------------ text for the character model
@pytest.mark.parametrize("payload, words", [
    (b"", "empty"),
    (b"   \n\t  ", "whitespace"),
    (b"some text\x00\x01\x02 with NUL bytes" * 20, "NUL"),
    (bytes(np.random.default_rng(1).integers(1, 256, 5_000, dtype=np.uint8)), "UTF-8|binary|control"),
    ("plain text, then noise ".encode() * 40 + bytes(range(1, 32)) * 40, "control"),
    (b"\xff\xfe" + "utf-16 text".encode("utf-16-le"), "UTF-8|binary|control|NUL"),
    ("x".encode() * (limits.MAX_UPLOAD_BYTES + 1), "limit"),
    (b"too short", "longer text"),
    ("".join(chr(0x4E00 + i) for i in range(5_000)).encode(), "distinct characters"),
])
def test_bad_text_for_the_character_model_is_refused(payload, words):
    with pytest.raises(engine.InputError, match=words):
        data.from_text(payload)


def test_good_text_still_makes_a_dataset():
    ds = data.from_text(("To be, or not to be, that is the question. " * 30).encode(), seq_len=16)
    assert ds.task == "char" and all(n > 0 for n in ds.sizes().values())


# ------------------------------------------------------------------ weights
@pytest.fixture(scope="module")
def tiny_vgg():
    return engine.build(engine.network.presets.get("tiny-vgg"), seed=0)


class _Payload:
    """Unpickling this would create the marker file: the test fails if it ever exists."""

    marker = None

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def evil(tmp_path):
    _Payload.marker = tmp_path / "unpickled"
    return _Payload()


def _torch_zip(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_weights_from_another_model_are_refused_naming_the_mismatch(tiny_vgg):
    other = save_weights(engine.build(engine.network.presets.get("lenet5"), seed=0))
    before = {k: v.clone() for k, v in tiny_vgg.state_dict().items()}
    with pytest.raises(engine.InputError, match="do not match the network"):
        load_weights(tiny_vgg, other)
    assert all(torch.equal(before[k], v) for k, v in tiny_vgg.state_dict().items())  # untouched


def test_weights_with_the_right_names_but_wrong_shapes_are_refused(tiny_vgg):
    state = {k: torch.zeros(*(s + 1 for s in v.shape)) if v.dim() else v for k, v in tiny_vgg.state_dict().items()}
    with pytest.raises(engine.InputError, match="in the file"):
        load_weights(tiny_vgg, _torch_zip(state))


@pytest.mark.parametrize("how", ["bare pickle", "pickle protocol 0", "torch.save of an object",
                                 "state_dict with an object inside"])
def test_a_pickle_disguised_as_weights_is_never_unpickled(tiny_vgg, evil, how):
    payload = {"bare pickle": lambda: pickle.dumps(evil),
               "pickle protocol 0": lambda: pickle.dumps({"weight": evil}, protocol=0),
               "torch.save of an object": lambda: _torch_zip(evil),
               "state_dict with an object inside": lambda: _torch_zip({**tiny_vgg.state_dict(), "x": evil})}[how]()
    with pytest.raises(engine.InputError):
        load_weights(tiny_vgg, payload)
    assert not _Payload.marker.exists(), "the pickle ran"


@pytest.mark.parametrize("payload, words", [
    (b"", "not a weights file"),
    (b"\x00" * 7, "not a weights file"),
    ((2**40).to_bytes(8, "little") + b"{}", "not a weights file"),  # safetensors header longer than the file
    ((30).to_bytes(8, "little") + b'{"w": {"dtype": "F32"}}      ' + b"\x00" * 8, "corrupted"),
    (b"PK\x03\x04" + bytes(100), "refused"),
])
def test_corrupt_weights_files_are_refused(tiny_vgg, payload, words):
    with pytest.raises(engine.InputError, match=words):
        load_weights(tiny_vgg, payload)


def test_a_zip_that_is_not_a_torch_file_is_refused(tiny_vgg):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("data.pkl", pickle.dumps({"w": 1}))
    with pytest.raises(engine.InputError, match="refused"):
        load_weights(tiny_vgg, buffer.getvalue())


def _recompressed(data: bytes) -> bytes:
    """A torch.save zip with every record deflated (torch.save itself stores them as they are)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
    return out.getvalue()


def test_a_pt_file_larger_than_the_network_is_refused_before_loading():
    toy = engine.build(engine.network.presets.get("toy-mlp"), seed=0)  # 114 parameters
    big = {**toy.state_dict(), "extra": torch.zeros(1 << 20)}  # 4 MiB more than it needs
    with pytest.raises(engine.InputError, match=r"unpack to 4\.0 MiB, far more than this network's weights need"):
        load_weights(toy, _torch_zip(big))
    load_weights(toy, _torch_zip(toy.state_dict()))  # its own weights still load


def test_a_tutorial_checkpoint_with_adams_state_still_loads():
    spec = engine.network.presets.get("mnist-cnn")  # 13 MB of weights: over the 1 MiB margin
    model = engine.build(spec, seed=0)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, *spec.input)).sum().backward()
    optimizer.step()
    checkpoint = {"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()}
    load_weights(model, _torch_zip(checkpoint))


def test_a_pt_file_whose_records_are_compressed_is_refused(tiny_vgg):
    zeros = {k: torch.zeros_like(v) for k, v in tiny_vgg.state_dict().items()}
    payload = _recompressed(_torch_zip(zeros))
    assert len(payload) < len(_torch_zip(zeros)) // 5
    with pytest.raises(engine.InputError, match="torch.save never compresses"):
        load_weights(tiny_vgg, payload)


def test_a_pt_file_with_a_huge_pickle_is_refused(tiny_vgg, monkeypatch):
    from engine.training import weights

    monkeypatch.setattr(weights, "_MOST_PICKLE", 2048)
    with pytest.raises(engine.InputError, match="data.pkl is 4.\\d KiB"):
        load_weights(tiny_vgg, _torch_zip({**tiny_vgg.state_dict(), "x" * 4000: torch.zeros(1)}))


# ------------------------------------------------------------------ the pages' image uploaders
PAGE_CASES = ["renamed .exe", "0-byte file", "truncated PNG", "10,000×10,000 PNG (decompression bomb)"]


def _inspect(preset: str = "tiny-vgg") -> AppTest:
    from ui.core.session import KEY, SessionState

    at = AppTest.from_file(INSPECT, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.network.presets.get(preset))
    at.run()
    at.radio(key="inspect_source").set_value("Upload image").run()
    assert not at.exception
    return at


@pytest.mark.parametrize("name", PAGE_CASES)
def test_inspect_upload_refuses_and_keeps_the_network(name):
    at = _inspect()
    before = at.session_state["playground"].spec
    at.file_uploader(key="inspect_upload").upload("photo.png", REFUSED[name][0], "image/png").run()
    assert not at.exception
    assert any(REFUSED[name][1] in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["playground"].spec == before
    # the page still works: a good upload afterwards is read
    at.file_uploader(key="inspect_upload").upload("ok.png", _png(), "image/png").run()
    assert not at.exception and not at.error


@pytest.mark.parametrize("name", ["animated GIF", "16-bit grey PNG", "CMYK JPEG"])
def test_inspect_upload_reads_odd_images(name):
    at = _inspect()
    at.file_uploader(key="inspect_upload").upload("odd.png", READ[name][0], "image/png").run()
    assert not at.exception and not at.error


def _conv() -> AppTest:
    at = AppTest.from_file(CONV, default_timeout=60)
    at.run()
    at.selectbox(key="conv_input").set_value("upload").run()
    assert not at.exception
    return at


@pytest.mark.parametrize("name", PAGE_CASES)
def test_convolution_upload_refuses_and_keeps_working(name):
    at = _conv()
    at.file_uploader(key="conv_upload").upload("photo.png", REFUSED[name][0], "image/png").run()
    assert not at.exception
    assert any(REFUSED[name][1] in e.value for e in at.error), [e.value for e in at.error]
    at.file_uploader(key="conv_upload").upload("ok.png", _png(), "image/png").run()
    assert not at.exception and not at.error


@pytest.mark.parametrize("name", ["animated GIF", "16-bit grey PNG", "CMYK JPEG"])
def test_convolution_upload_reads_odd_images(name):
    at = _conv()
    at.toggle(key="conv_rgb").set_value(True).run()
    at.file_uploader(key="conv_upload").upload("odd.png", READ[name][0], "image/png").run()
    assert not at.exception and not at.error
