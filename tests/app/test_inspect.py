"""The Inspect page runs for image and character models on dataset samples and typed text, uploads (fitted or refused), and caches per version."""
import io
from pathlib import Path

from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from ui.session import KEY, SessionState

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Inspect.py")


def _page(preset: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.presets.get(preset))
    return at.run()


def test_image_model_shows_every_section():
    at = _page("tiny-vgg")
    assert not at.exception
    assert "untrained" in at.info[0].value
    assert at.selectbox(key="inspect_filter").value == "any class"
    assert len(at.get("plotly_chart")) > 5
    at.selectbox(key="inspect_method").set_value("Grad-CAM").run()
    assert not at.exception
    at.selectbox(key="inspect_filter").set_value("misclassified").run()
    assert not at.exception


def test_results_are_cached_per_version():
    at = _page("tiny-vgg")
    state = at.session_state[KEY]
    cache = state.extras["inspect"]
    assert cache["version"] == state.version and cache["results"]
    state.set_spec(engine.presets.get("xo-cnn"))
    at.run()
    assert not at.exception
    assert at.session_state[KEY].extras["inspect"]["version"] == state.version


def test_default_mnist_model_fits_digit_samples():
    at = _page("mnist-cnn")
    assert not at.exception
    assert any("Resized" in c.value for c in at.sidebar.caption)


def test_character_model_shows_sequence_tab():
    at = _page("char-lstm")
    assert not at.exception
    assert any(t.label == "Sequence" for t in at.tabs)
    at.text_area(key="inspect_text").set_value("hello there").run()
    assert not at.exception


def _png(size=(40, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128).save(buffer, "PNG")
    return buffer.getvalue()


def test_upload_is_fitted_and_corrupt_files_are_answered():
    at = _page("tiny-vgg")
    at.radio(key="inspect_source").set_value("Upload image").run()
    assert not at.exception
    at.file_uploader(key="inspect_upload").upload("red.png", _png(), "image/png").run()
    assert not at.exception
    notes = " ".join(c.value for c in at.sidebar.caption)
    assert "grey" in notes and "Resized from 40×30 to 8×8" in notes
    at.file_uploader(key="inspect_upload").upload("bad.png", _png()[:60], "image/png").run()
    assert not at.exception
    assert "corrupt or truncated" in at.error[0].value
