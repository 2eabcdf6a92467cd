"""The depth lab's Glorot and Bengio figure in AppTest: each activation's layer histograms at initialisation under
the chosen scheme (counts checked against numpy.histogram of PyTorch's own activations), a saved choice, and the
lab run's histograms with a step slider."""
import base64

import numpy as np
import torch

from engine.gradients import glorot as engine_glorot
from engine.gradients import lab
from tests.app.gradients.test_gradients_page import at, chart, live_at, poll_until_ended, runs  # noqa: F401
from ui.gradients import glorot
from ui.gradients.settings import DEPTH


def _bars(fig: dict) -> list[np.ndarray]:
    out = []
    for trace in fig["data"]:
        y = trace["y"]
        if isinstance(y, dict):  # Plotly's typed array
            y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
        out.append(np.asarray(y, dtype=float))
    return out


def _torch_histograms(activation: str, scheme: str) -> list[np.ndarray]:
    """Each activation layer's output on the figure's batch, by PyTorch, binned by numpy on the shown edges."""
    model = lab.depth_model(glorot.DEPTH_LAYERS, glorot.WIDTH, activation, scheme, seed=0).eval()
    x, _ = lab.depth_batch(256, 0)
    outs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o.detach().double().numpy()))
             for m in model.modules() if type(m).__name__ == activation]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return outs


def test_the_figure_at_initialisation_holds_numpys_counts_of_torchs_activations(at):  # noqa: F811
    assert not at.exception
    assert at.radio(key=DEPTH.key("glorot_scheme")).value == "normal-0.01"
    at.radio(key=DEPTH.key("glorot_scheme")).set_value("xavier").run()
    assert not at.exception
    grid = engine_glorot.glorot_grid(glorot.DEPTH_LAYERS, glorot.WIDTH)
    for activation in engine_glorot.ACTIVATIONS:
        fig = chart(at, f"glorot-{activation}")
        assert activation in fig["layout"]["title"]["text"] and "xavier" in fig["layout"]["title"]["text"]
        shown = _bars(fig)
        outs = _torch_histograms(activation, "xavier")
        assert len(shown) == len(outs) == glorot.DEPTH_LAYERS
        for counts, out, layer in zip(shown, outs, grid[(activation, "xavier")]):
            expected, _ = np.histogram(np.clip(out, layer["edges"][0], layer["edges"][-1]), bins=layer["edges"])
            assert counts.sum() == out.size and np.array_equal(counts, expected)
    assert at.session_state["playground"].settings["gradients"]["glorot_scheme"] == "xavier"  # saved with the rest


def test_the_lab_runs_histograms_follow_the_step_slider(live_at):  # noqa: F811
    at = live_at
    at.slider(key="depth-depth").set_value(3).run()
    at.select_slider(key="depth-epochs").set_value(1).run()
    at.button(key="depth-start").click().run()
    poll_until_ended(at, "depth")
    at.run()
    (trainer,) = runs(at)["depth"]["trainers"]
    records = trainer.records()
    slider = at.slider(key="depth-glorot-step")
    first, last = slider.min, slider.max
    assert slider.value == last and first < last
    assert "at step" in chart(at, "depth-glorot-run")["layout"]["title"]["text"]
    at.slider(key="depth-glorot-step").set_value(first).run()
    assert not at.exception
    step, layers = engine_glorot.run_histograms(records, first)
    fig = chart(at, "depth-glorot-run")
    assert fig["layout"]["title"]["text"].endswith(f"step {step}")
    assert [b.tolist() for b in _bars(fig)] == [np.asarray(h["counts"], dtype=float).tolist() for h in layers.values()]
