"""Train page uploads in AppTest: your own text for the character model and trained weights; bad files are refused
with the engine's message, the session's work is kept, and nothing is ever unpickled."""
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import engine
from engine import data, limits
from engine.training import save_weights
from tests.app.train.test_train import PAGE, runs, wait_for
from ui.core.session import KEY, SessionState

GOOD_TEXT = ("To be, or not to be, that is the question. " * 30).encode()
# name -> (bytes, words of the engine's InputError); the same hostile texts as tests/bad_inputs/test_uploads.py
BAD_TEXT = {
    "binary noise": (bytes(np.random.default_rng(1).integers(1, 256, 5_000, dtype=np.uint8)), "UTF-8|binary|control"),
    "UTF-16": (b"\xff\xfe" + "utf-16 text".encode("utf-16-le"), "UTF-8|binary|control|NUL"),
    "too short": (b"too short", "longer text"),
    "too many distinct characters": ("".join(chr(0x4E00 + i) for i in range(5_000)).encode(), "distinct characters"),
    "empty": (b"", "empty"),
    "over the size cap": (b"x" * (limits.MAX_UPLOAD_BYTES + 1), "limit"),
}


def _page(preset: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.network.presets.get(preset))
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def char_page():
    at = _page("char-rnn")
    yield at
    for run in at.session_state[KEY].book.runs:
        run.trainer.stop()


@pytest.mark.parametrize("name", list(BAD_TEXT))
def test_bad_text_is_refused_with_the_engines_message(char_page, name):
    import re

    at = char_page
    assert at.selectbox(key="tr-dataset").value == "zen"
    payload, words = BAD_TEXT[name]
    with pytest.raises(engine.InputError) as refused:
        data.from_text(payload)
    at.file_uploader(key="tr-text").upload("mine.txt", payload, "text/plain").run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert re.search(words, shown) and (str(refused.value) in shown or "limit" in shown), shown
    at.button(key="tr-start").click().run()  # the built-in text is still there to train on
    assert runs(at)[-1].trainer.dataset.name == "zen"


def test_your_own_text_trains_the_character_model(char_page):
    at = char_page
    at.file_uploader(key="tr-text").upload("hamlet.txt", GOOD_TEXT, "text/plain").run()
    assert not at.error and any("hamlet.txt" in c.value for c in at.caption)
    at.number_input(key="tr-epochs").set_value(1).run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert trainer.dataset.name == "upload:hamlet.txt" and "T" in trainer.dataset.vocab
    assert "upload:hamlet.txt" in runs(at)[-1].label and not at.exception


# ------------------------------------------------------------------ weights
class _Payload:
    """Unpickling this would create the marker file: the test fails if it ever exists."""

    marker = None

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _torch_zip(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture
def toy_page():
    return _page("toy-mlp")


def test_weights_become_the_sessions_model(toy_page):
    at = toy_page
    trained = engine.build(engine.network.presets.get("toy-mlp"), seed=7)
    at.file_uploader(key="tr-weights").upload("toy.safetensors", save_weights(trained), "application/octet-stream")
    at.run()
    session = at.session_state[KEY]
    assert not at.exception and any("Loaded" in m.value for m in at.success)
    assert session.trained and session.dataset is None
    model = session.get_model().state_dict()
    assert all(torch.equal(model[k], v) for k, v in trained.state_dict().items())
    version = session.version
    at.run()  # the same file is not loaded again on every rerun
    assert session.version == version


def _bad_weights(tmp_path) -> dict:
    _Payload.marker = tmp_path / "unpickled"
    evil = _Payload()
    toy = engine.build(engine.network.presets.get("toy-mlp"), seed=0)
    return {
        "another model's weights": (save_weights(engine.build(engine.network.presets.get("tiny-vgg"), seed=0)),
                                    "do not match the network"),
        "bare pickle": (pickle.dumps(evil), "not a weights file"),
        "torch.save of an object": (_torch_zip(evil), "refused"),
        "state_dict with an object inside": (_torch_zip({**toy.state_dict(), "x": evil}), "refused"),
        "truncated safetensors": (save_weights(toy)[:60], "corrupted|not a weights file"),
        "0-byte file": (b"", "not a weights file"),
        "a .pt whose storage inflates to 64 MiB": (_storage_bomb(tmp_path), "far more than this network"),
    }


def _storage_bomb(tmp_path) -> bytes:
    from tests.bad_inputs.test_upload_bombs import _storage_bomb as write

    write(tmp_path / "bomb.pt", 16 << 20)
    return (tmp_path / "bomb.pt").read_bytes()


@pytest.mark.parametrize("name", ["another model's weights", "bare pickle", "torch.save of an object",
                                  "state_dict with an object inside", "truncated safetensors", "0-byte file",
                                  "a .pt whose storage inflates to 64 MiB"])
def test_bad_weights_are_refused_and_the_model_is_kept(toy_page, tmp_path, name):
    import re

    at = toy_page
    payload, words = _bad_weights(tmp_path)[name]
    session = at.session_state[KEY]
    before = {k: v.clone() for k, v in session.get_model().state_dict().items()}
    version = session.version
    at.file_uploader(key="tr-weights").upload("w.safetensors", payload, "application/octet-stream").run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Weights refused" in shown and re.search(words, shown), shown
    assert not _Payload.marker.exists(), "the pickle ran"
    assert session.version == version and not session.trained
    assert all(torch.equal(before[k], v) for k, v in session.get_model().state_dict().items())
