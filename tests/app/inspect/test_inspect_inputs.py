"""The Inspect page explains the predicted class of each new input, reads the model's own training data
(seed and options), shows the input, regression values, sequence choices and upload conversions."""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from engine import data, inspect
from engine.inspect import attribution
from ui.inspect.inputs import FALLBACK_VOCAB
from ui.core.session import KEY, SessionState

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "4_Inspect.py")


def _page(preset: str | None = None, spec=None, tab: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    s = SessionState(spec=spec or engine.network.presets.get(preset))
    for name, value in state.items():
        setattr(s, name, value)
    at.session_state[KEY] = s
    if tab:
        at.session_state["inspect_tab"] = at.query_params["inspect_tab"] = tab
    return at.run()


def _open(at, tab: str) -> AppTest:
    """Switch the page's tabs (keyed, they rerun on a switch) as a click on the tab would (bound to the address,
    which AppTest sends with every run, so it changes there too)."""
    at.session_state["inspect_tab"] = at.query_params["inspect_tab"] = tab
    return at.run()


def _chart(at, key: str) -> dict | None:
    for c in at.get("plotly_chart"):
        if c.proto.id.endswith(f"-{key}"):
            return json.loads(c.proto.spec)
    return None


def _array(value) -> np.ndarray:
    """A figure's data array from its JSON: a list, or Plotly's typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict):
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.array(value, dtype=float)


def _title(at, key: str) -> str:
    return _chart(at, key)["layout"]["title"]["text"]


def _captions(at) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


@pytest.fixture(scope="module")
def centroids():
    """A linear model whose class scores are the digits' class-mean images (no training): predictions vary."""
    spec = engine.ModelSpec.from_dict({"name": "centroids", "input": [1, 8, 8], "layers": [
        {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]})
    model = engine.build(spec, seed=0)
    ds = data.load("digits", seed=0)
    means = torch.stack([ds.x_train[ds.y_train == k].mean(dim=0).flatten() for k in range(10)])  # (10, 64)
    with torch.no_grad():
        model[1].weight.copy_(means)
        model[1].bias.copy_(-0.5 * (means ** 2).sum(dim=1))  # nearest class mean, by squared distance
    return spec, model.train()


def test_explained_class_follows_the_prediction_of_each_sample(centroids):
    spec, model = centroids
    at = _page(spec=spec, model=model, trained=True, dataset={"name": "digits", "seed": 0, "options": {}},
               tab="Attribution")
    assert not at.exception and "untrained" not in " ".join(i.value for i in at.info)
    x_test = data.load("digits", seed=0).x_test
    predicted = inspect.predicted_classes(model, x_test[:6])
    assert len(set(predicted.tolist())) > 2
    for i in range(6):
        at.number_input(key="inspect_index").set_value(i).run()
        assert not at.exception
        assert _title(at, "inspect_overlay") == f"Saliency for class {predicted[i]} (predicted)"
        overlay = _chart(at, "inspect_overlay")
        assert [d["type"] for d in overlay["data"]] == ["heatmap", "heatmap"]  # the input, the saliency over it
        expected = attribution.attribute(model, x_test[i], "saliency")[0]
        np.testing.assert_allclose(_array(overlay["data"][1]["z"]), expected, rtol=1e-5, atol=1e-7)
    at.selectbox(key="inspect_target").set_value("3").run()  # a chosen class stays chosen
    at.number_input(key="inspect_index").set_value(0).run()
    assert _title(at, "inspect_overlay").startswith("Saliency for class 3")


def test_training_dataset_is_loaded_with_its_seed_and_options():
    spec = engine.ModelSpec.from_dict({"name": "g3", "input": [2], "layers": [
        {"type": "Linear", "out_features": 8}, {"type": "Tanh"}, {"type": "Linear", "out_features": 3}]})
    at = _page(spec=spec, trained=True, dataset={"name": "gaussians", "seed": 7, "options": {"classes": 3}})
    assert not at.exception
    ds = data.load("gaussians", seed=7, classes=3)
    assert "**gaussians** (seed 7, classes=3)" in _captions(at) and "test split" in _captions(at)
    at.number_input(key="inspect_index").set_value(4).run()
    assert "gaussians test #4" in _captions(at) and "index 4 of the 90" in _captions(at)
    shown = _array(_chart(at, "inspect_input")["data"][0]["y"])
    np.testing.assert_allclose(shown, ds.x_test[4].numpy(), rtol=1e-6)
    assert f"True label: **{ds.classes[int(ds.y_test[4])]}**" in " ".join(c.value for c in at.caption)
    assert "3 classes but the model" not in _captions(at)


def test_missing_folder_dataset_is_named_and_a_fitting_one_is_used():
    at = _page("mnist-cnn", trained=True, dataset={"name": "mnist", "seed": 1, "options": {"folder": "/no/such"}})
    assert not at.exception
    assert "The training data (mnist) cannot be loaded here" in at.sidebar.warning[0].value
    assert "**mnist**" in _captions(at)  # the bundled subset fits it as it is


def test_xo_model_gets_the_xo_dataset_and_a_shown_input():
    at = _page("xo-cnn")
    assert not at.exception
    assert "**xo**" in _captions(at) and "True label:" in " ".join(c.value for c in at.caption)
    x = data.load("xo", seed=0).x_test[0, 0].numpy()
    np.testing.assert_allclose(_array(_chart(at, "inspect_input")["data"][0]["z"]), x)
    assert _chart(at, "inspect_act_input") is None  # the closed Activations tab draws nothing
    assert _chart(_open(at, "Activations"), "inspect_act_input") is not None  # the input is its first row
    _open(at, "Attribution")
    at.selectbox(key="inspect_method").set_value("Integrated Gradients").run()
    assert any("mid-grey, not blank" in c.value for c in at.caption)  # 0 in the X/O data's -1..1
    model = at.session_state[KEY].get_model()
    sample = data.load("xo", seed=0).x_test[0]
    target = int(inspect.outputs(model, sample).argmax())
    gap = inspect.outputs(model, sample)[target] - inspect.outputs(model, torch.zeros_like(sample))[target]
    attr = attribution.attribute(model, sample, "integrated_gradients", target=target)
    assert any(f"add up to {float(attr.sum()):.4g}; the score changed by {gap:.4g}" in c.value for c in at.caption)


def test_regression_model_shows_its_value_and_the_target():
    spec = engine.ModelSpec.from_dict({"name": "sine-lstm", "input": [20, 1], "layers": [
        {"type": "LSTM", "hidden_size": 8, "output": "last"}, {"type": "Linear", "out_features": 1}]})
    at = _page(spec=spec, trained=True, dataset={"name": "sine", "seed": 0, "options": {}})
    assert not at.exception
    assert _chart(at, "inspect_topk") is None  # no softmax "probabilities" for a regression output
    ds = data.load("sine", seed=0)
    value = inspect.outputs(at.session_state[KEY].get_model(), ds.x_test[0])[0]
    (metric,) = at.get("metric")
    assert metric.value == f"{value:.4g}"
    assert f"**{float(ds.y_test[0, 0]):.4g}**" in " ".join(c.value for c in at.caption)
    assert _title(_open(at, "Attribution"), "inspect_overlay") == "Saliency for output 0"


def test_sequence_tab_explains_a_chosen_position_and_character():
    spec = engine.ModelSpec.from_dict({"name": "c2", "input": [16], "vocab_size": 32, "layers": [
        {"type": "Embedding", "embedding_dim": 8}, {"type": "LSTM", "hidden_size": 6, "num_layers": 2,
                                                     "bidirectional": True},
        {"type": "Linear", "out_features": 32}]})
    at = _page(spec=spec, tab="Sequence")
    at.text_area(key="inspect_text").set_value("hi you").run()
    assert not at.exception
    assert at.select_slider(key="inspect_pos").value == 5  # the last character by default
    at.select_slider(key="inspect_pos").set_value(2).run()
    at.selectbox(key="inspect_seq_target").set_value("o").run()
    assert not at.exception
    assert _title(at, "inspect_tokens").startswith("Why the next character 'o' after 'hi␣' (position 2)")
    model = at.session_state[KEY].get_model()
    vocab = FALLBACK_VOCAB[:32]  # no character dataset has exactly 32 characters
    ids = np.array([vocab.index(c) for c in "hi you"])
    expected = attribution.token_attribution(model, ids, target_pos=2, target=vocab.index("o"))
    np.testing.assert_allclose(_array(_chart(at, "inspect_tokens")["data"][0]["z"])[0, :6], expected,
                               rtol=1e-5, atol=1e-7)
    hidden = _chart(at, "inspect_hidden")
    assert hidden["layout"]["xaxis"]["ticktext"] == ["h", "i", "␣", "y", "o", "u"]
    assert "layer 2 of 2, forward | backward" in hidden["layout"]["title"]["text"]
    at.selectbox(key="inspect_rnn_layer").set_value(0).run()
    at.radio(key="inspect_rnn_dir").set_value("backward").run()
    assert _title(at, "inspect_gate_forget") == "forget gate (layer 1 of 2, backward direction)"
    gates = inspect.lstm_gates(model, ids, layer=0, direction=1)
    np.testing.assert_allclose(_array(_chart(at, "inspect_gate_forget")["data"][0]["z"]),
                               gates["forget"].T, rtol=1e-5, atol=1e-7)
    at.text_area(key="inspect_text").set_value("").run()
    assert not at.exception and any("The text is empty" in c.value for c in at.sidebar.caption)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_upload_is_mapped_to_the_datasets_range_and_inverted():
    paper = Image.new("L", (27, 27), 255)
    for r in range(27):
        for c in (12, 13, 14):
            paper.putpixel((c, r), 0)  # a dark vertical stroke on white, one input pixel wide after resizing
    at = _page("xo-cnn")
    at.radio(key="inspect_source").set_value("Upload image").run()
    at.file_uploader(key="inspect_upload").upload("paper.png", _png(paper), "image/png").run()
    assert not at.exception
    assert "mostly light" in _captions(at) and "mapped to -1 to 1" in _captions(at)
    at.toggle(key="inspect_invert").set_value(True).run()
    z = _array(_chart(at, "inspect_input")["data"][0]["z"])
    assert z.min() >= -1 and z[0, 0] == -1 and z[:, 4].max() > 0  # the stroke is now light ink on the blank -1
    assert "Inverted" in _captions(at)


def test_rgb_model_notes_grey_and_transparent_uploads():
    spec = engine.ModelSpec.from_dict({"name": "rgb", "input": [3, 8, 8], "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 10}]})
    at = _page(spec=spec)
    at.radio(key="inspect_source").set_value("Upload image").run()
    at.file_uploader(key="inspect_upload").upload("g.png", _png(Image.new("L", (8, 8), 90)), "image/png").run()
    assert "repeated over the 3 colour channels" in _captions(at)
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
    clear.putpixel((0, 0), (0, 0, 0, 0))
    at.file_uploader(key="inspect_upload").upload("a.png", _png(clear), "image/png").run()
    assert not at.exception and "Transparent areas were made white" in _captions(at)


def test_gradcam_layer_default_labels_and_all_zero_message():
    at = _page("resnet-mini", tab="Attribution")
    at.selectbox(key="inspect_method").set_value("Grad-CAM").run()
    picker = at.selectbox(key="inspect_cam_layer")
    assert picker.value == "5.3" and "5.shortcut · Conv2d → 32×4×4 (shortcut projection)" in picker.options
    model = at.session_state[KEY].get_model()
    x = data.load("digits", seed=0).x_test[0]
    zero = next(t for t in range(10) if not attribution.attribute(model, x, "gradcam", target=t).any())
    at.selectbox(key="inspect_target").set_value(str(zero)).run()
    assert not at.exception and _chart(at, "inspect_overlay") is None
    assert any("all zero" in i.value and "positive evidence" in i.value for i in at.info)


def test_guided_backprop_note_and_occlusion_cost_cap():
    at = _page("lenet5", tab="Attribution")
    at.selectbox(key="inspect_method").set_value("Guided Backprop").run()
    assert any("equals the plain gradient" in i.value for i in at.info)
    big = engine.ModelSpec.from_dict({"name": "big", "input": [1, 80, 80], "layers": [
        {"type": "Conv2d", "out_channels": 1, "kernel_size": 3}, {"type": "Flatten"},
        {"type": "Linear", "out_features": 10}]})
    at = _page(spec=big, tab="Attribution")
    at.selectbox(key="inspect_method").set_value("Occlusion").run()
    at.slider(key="inspect_window").set_value(1).run()
    assert not at.exception
    assert "6,400 forward passes; the limit is 4,096" in at.warning[0].value


def test_activation_mosaic_holds_pytorchs_maps_and_their_hover_index():
    at = _page("tiny-vgg", tab="Activations")
    assert not at.exception
    opened = [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")]
    assert "inspect_act_0" in opened and "inspect_act_11" not in opened  # a closed layer's figure is not built
    at.session_state["inspect_layer_11"] = True  # as a click on its expander (keyed, it reruns)
    at.run()
    assert _chart(at, "inspect_act_11") is not None
    _open(at, "Prediction")
    x = _array(_chart(at, "inspect_input")["data"][0]["z"])  # the 8×8 input itself
    model = at.session_state[KEY].get_model()
    with torch.no_grad():
        maps = model[0](torch.tensor(x, dtype=torch.float32)[None, None])[0].numpy()  # (10, 8, 8) by PyTorch
    _open(at, "Activations")
    trace = _chart(at, "inspect_act_0")["data"][0]
    z, index = _array(trace["z"]), _array(trace["customdata"])
    assert z.shape == (3 * 9 - 1, 4 * 9 - 1) and trace["hovertemplate"].startswith("map %{customdata}: %{z")
    for k in range(10):
        r, c = divmod(k, 4)
        np.testing.assert_allclose(z[r * 9:r * 9 + 8, c * 9:c * 9 + 8], maps[k], rtol=1e-6, atol=1e-7)
        assert (index[r * 9:r * 9 + 8, c * 9:c * 9 + 8] == k).all()
    assert np.isnan(z[8]).all() and np.isnan(z[:, 8]).all()  # the gaps between tiles


def test_closed_tabs_keep_their_choices():
    at = _page("tiny-vgg", tab="Attribution")
    at.selectbox(key="inspect_method").set_value("Grad-CAM").run()
    at.selectbox(key="inspect_target").set_value("3").run()
    _open(at, "Filters")
    assert not at.exception and _chart(at, "inspect_overlay") is None
    _open(at, "Activations")
    at.toggle(key="inspect_more").set_value(True).run()
    _open(at, "Attribution")
    assert at.selectbox(key="inspect_method").value == "Grad-CAM" and at.selectbox(key="inspect_target").value == "3"
    assert _title(at, "inspect_overlay").startswith("Grad-CAM for class 3")
    assert at.toggle(key="inspect_more").value
