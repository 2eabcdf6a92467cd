"""The Inspect page runs for image and character models on dataset samples, drawings and typed text,
uploads (fitted or refused), and caches per version."""
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from engine import inspect
from ui.core.session import KEY, SessionState
from ui.inspect.widgets import target_ui

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "4_Inspect.py")


def _page(preset: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[KEY] = SessionState(spec=engine.network.presets.get(preset))
    return at.run()


def _open(at, tab: str) -> AppTest:
    """Switch the page's tabs (keyed, they rerun on a switch) as a click on the tab would (bound to the address,
    which AppTest sends with every run, so it changes there too)."""
    at.session_state["inspect_tab"] = at.query_params["inspect_tab"] = tab
    return at.run()


def _charts(at) -> list[str]:
    return [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")]


def test_image_model_shows_every_section():
    at = _page("tiny-vgg")
    assert not at.exception
    assert "untrained" in at.info[0].value
    assert at.selectbox(key="inspect_filter").value == "any class"
    assert _charts(at) == ["inspect_input", "inspect_topk"]  # only the open tab (Prediction) draws
    assert _charts(_open(at, "Filters")) == ["inspect_filters", "inspect_hist"]
    acts = _charts(_open(at, "Activations"))
    assert acts[0] == "inspect_act_input" and len(acts) > 5
    assert _charts(_open(at, "Attribution")) == ["inspect_overlay"]
    overlay = _chart(at, "inspect_overlay")
    assert overlay["layout"]["title"]["text"].startswith("Saliency for class")
    assert [d["type"] for d in overlay["data"]] == ["heatmap", "heatmap"]  # the input, the saliency over it
    assert overlay["data"][1]["colorbar"]["title"]["text"] == "attribution"
    at.selectbox(key="inspect_method").set_value("Grad-CAM").run()
    assert not at.exception
    assert _chart(at, "inspect_overlay")["layout"]["title"]["text"].startswith("Grad-CAM for class")
    at.selectbox(key="inspect_filter").set_value("misclassified").run()
    assert not at.exception


def _chart(at, key: str) -> dict | None:
    return next((json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")), None)


def test_untrained_notice_follows_the_current_model():
    at = _page("tiny-vgg")
    state = at.session_state[KEY]
    state.set_model(state.get_model(), dataset={"name": "digits", "seed": 0, "options": {}})  # as after training
    at.run()
    assert not any("untrained" in i.value for i in at.info)
    state.set_spec(engine.network.presets.get("xo-cnn"))  # a new network: fresh weights again
    at.run()
    assert "untrained" in at.info[0].value


def test_results_are_cached_per_version():
    at = _page("tiny-vgg")
    state = at.session_state[KEY]
    cache = state.extras["inspect"]
    assert cache["version"] == state.version and cache["results"]
    state.set_spec(engine.network.presets.get("xo-cnn"))
    at.run()
    assert not at.exception
    assert at.session_state[KEY].extras["inspect"]["version"] == state.version


def test_default_mnist_model_reads_real_28x28_digits():
    at = _page("mnist-cnn")
    assert not at.exception
    assert "**mnist**" in " ".join(c.value for c in at.caption)  # the bundled subset, at the network's own size
    assert not any("Resized" in c.value for c in at.sidebar.caption)


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


def test_paint_and_drawing_round_trip():
    grid = inspect.paint(np.zeros((14, 14)), [(3, 4), (3.0, 5.0), (20, 1)], 1.0)  # (20, 1) is off the grid
    assert grid.sum() == 2 and grid[3, 4] == grid[3, 5] == 1
    assert inspect.paint(grid, [(3, 4)], 0.0).sum() == 1
    assert inspect.canvas_shape((1, 28, 28)) == (14, 14) and inspect.canvas_shape((1, 8, 8)) == (8, 8)
    x, notes = inspect.drawing_to_input(grid, (1, 28, 28), low=-1.0, high=1.0)
    assert x.shape == (1, 28, 28) and x.min() == -1.0 and x.max() <= 1.0 and "Resized from 14×14" in notes[0]
    back = inspect.input_to_drawing(x, (14, 14), low=-1.0, high=1.0)
    assert back.shape == (14, 14) and back[3, 4] > 0.5 and back[10, 10] == 0


def test_draw_a_digit_feeds_the_drawing_to_the_model():
    at = _page("tiny-vgg")
    at.radio(key="inspect_source").set_value("Draw a digit").run()
    assert not at.exception
    assert any("Drawn on 8×8" in c.value and "0 to 1" in c.value for c in at.sidebar.caption)
    state = at.session_state[KEY]
    drawing = state.extras["inspect"]["drawing"]
    assert drawing["grid"].shape == (8, 8) and not drawing["grid"].any()
    drawing["grid"] = inspect.paint(drawing["grid"], [(r, 4) for r in range(1, 7)], 1.0)  # a "1"
    at.run()
    assert not at.exception
    x = drawing["grid"][None].astype(np.float32)  # 8×8 model, digits pixels in [0, 1]: the drawing itself
    expected = inspect.predict(state.get_model(), x, [str(d) for d in range(10)], k=5)
    predictions = [r for key, r in state.extras["inspect"]["results"].items() if key[0] == "predict"]
    # the same classes in the same order, the same probabilities up to float rounding (thread counts vary)
    assert any([c for c, _ in r] == [c for c, _ in expected]
               and np.allclose([p for _, p in r], [p for _, p in expected], atol=1e-6) for r in predictions)
    assert f"says **{expected[0][0]}**" in " ".join(m.value for m in at.markdown)
    at.button(key="inspect_clear").click().run()
    assert not at.exception and not state.extras["inspect"]["drawing"]["grid"].any()
    at.button(key="inspect_from_dataset").click().run()  # no sample picked yet: the first test digit
    assert not at.exception and state.extras["inspect"]["drawing"]["grid"].max() > 0.5


def test_draw_a_digit_is_offered_for_grey_images_only():
    assert "Draw a digit" in _page("mnist-cnn").radio(key="inspect_source").options
    assert _page("toy-mlp").radio(key="inspect_source").options == ["Dataset sample"]


def test_one_private_copy_per_version_and_session():
    at = _page("tiny-vgg")
    state = at.session_state[KEY]
    model = state.get_model().train()  # as a live run leaves it
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    copy = state.extras["inspect"]["copy"][1]
    assert copy is not model and not copy.training
    _open(at, "Attribution")
    for method in ["Guided Backprop", "Grad-CAM", "Saliency"]:  # hook-based ones too
        at.selectbox(key="inspect_method").set_value(method).run()
        assert not at.exception
        assert state.extras["inspect"]["copy"][1] is copy  # reused by every rerun, not a deepcopy each
    assert model.training and all(p.requires_grad for p in model.parameters())  # the session's model untouched
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    assert not any(m._forward_hooks or m._backward_hooks for m in copy.modules())  # Captum's hooks are gone
    assert inspect.private_copy(copy) is copy and inspect.private_copy(model) is not model
    handle = copy[0].register_forward_hook(lambda *args: None)
    assert inspect.private_copy(copy) is not copy  # a hook left behind (an attribution stopped half-way): not reused
    handle.remove()
    other = _page("tiny-vgg")
    assert other.session_state[KEY].extras["inspect"]["copy"][1] is not copy  # each session has its own
    state.set_spec(engine.network.presets.get("xo-cnn"))
    at.run()
    assert not at.exception and state.extras["inspect"]["copy"][1] is not copy  # a new version, a new copy
    assert state.extras["inspect"]["copy"][0] is state.get_model()



def test_a_stale_explained_class_never_raises():
    """The browser's draw flow logged ValueError: 'Predicted (8)' is not in list: the frontend sent back the label
    of the "predicted" option as it read before the prediction moved on. Such a value explains the predicted class."""
    class Column:
        def selectbox(self, *args, **kwargs):
            return "Predicted (8)"

    target, name, is_predicted = target_ui(Column(), "Explain class", [str(d) for d in range(10)], "3", "k")
    assert (target, name, is_predicted) == (None, "3", True)
