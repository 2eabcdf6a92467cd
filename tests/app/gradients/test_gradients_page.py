"""The Gradients page in AppTest: both tabs' widgets, the radius slider, presets, contrasts and live background runs."""
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.training import TERMINAL

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "5_Gradients.py")


def chart(at: AppTest, key: str) -> dict:
    """The Plotly spec of the chart drawn with ``key=`` (its element id ends with the key)."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart with key {key!r}")


def has_chart(at: AppTest, key: str) -> bool:
    return any(element.proto.id.endswith(f"-{key}") for element in at.get("plotly_chart"))


def ys(trace: dict) -> list[float]:
    """A plotted trace's y values (Plotly may store them as a typed array)."""
    y = trace["y"]
    if isinstance(y, dict):  # {"dtype": "f8", "bdata": base64}
        import base64

        import numpy as np
        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return y


def first_last(trace: dict) -> float:
    """first / last of a plotted gradient-norm curve."""
    y = ys(trace)
    return y[0] / y[-1]


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def open_tab(at: AppTest, label: str = "Through time") -> AppTest:
    """Open a tab of the page (only the open tab computes and draws its charts), as a click would: in session
    state and in the address, which AppTest sends with every run."""
    at.session_state["gradients_tab"] = at.query_params["gradients_tab"] = label
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    return app


@pytest.fixture
def time_at(at):
    """The page with its "Through time" tab open."""
    return open_tab(at)


def test_page_draws_both_tabs_without_errors(at):
    assert [tab.label for tab in at.tabs] == ["Through depth", "Through time"]
    assert not at.error
    assert has_chart(at, "depth-norms-chart") and has_chart(at, "depth-activations-chart")
    open_tab(at)
    assert not at.error
    assert has_chart(at, "time-norms-chart")
    assert "σ_max =" in markdown_text(at)
    assert any("through time, at initialisation" in h.value for h in at.subheader)  # not a trained network


def test_depth_choices_are_registry_names(at):
    from engine.gradients import lab
    from engine.network import layer_names
    from engine.training import OPTIMIZERS

    assert at.selectbox(key="depth-activation").options == list(layer_names("Activation", elementwise=True))
    assert at.selectbox(key="depth-opt").options == ["SGD with momentum 0.9", "plain SGD", "Adam"]  # its labels
    assert at.selectbox(key="depth-opt").value == "momentum" and set(lab.DEPTH_LR) <= set(OPTIMIZERS)


def test_default_sigmoid_small_init_vanishes(at):
    trace = chart(at, "depth-norms-chart")["data"][0]
    assert len(trace["x"]) == 11  # 10 hidden layers + the output layer
    assert first_last(trace) < 1e-6
    assert "0.25" in markdown_text(at)


def test_depth_and_activation_change_the_chart(at):
    before = chart(at, "depth-norms-chart")
    at.slider(key="depth-depth").set_value(3).run()
    assert not at.exception
    assert len(chart(at, "depth-norms-chart")["data"][0]["x"]) == 4
    at.selectbox(key="depth-activation").set_value("ReLU").run()
    at.selectbox(key="depth-init").set_value("he").run()
    assert not at.exception and not at.error
    after = chart(at, "depth-norms-chart")
    assert after != before
    assert first_last(after["data"][0]) > 1e-3  # ReLU + He keeps the gradient


def test_preset_loads_settings(at):
    at.selectbox(key="depth-preset").set_value("residual 20-layer").run()
    assert not at.exception
    assert at.slider(key="depth-depth").value == 20
    assert at.toggle(key="depth-residual").value is True
    assert at.selectbox(key="depth-activation").value == "Sigmoid"
    assert len(chart(at, "depth-norms-chart")["data"][0]["x"]) == 21


def test_preset_sets_width_and_an_edit_makes_it_custom(at):
    at.select_slider(key="depth-width").set_value(128).run()
    at.selectbox(key="depth-preset").set_value("10-layer ReLU, He init").run()
    assert at.select_slider(key="depth-width").value == 32  # the classic network, whatever the width was
    assert at.selectbox(key="depth-preset").value == "10-layer ReLU, He init"
    at.slider(key="depth-depth").set_value(12).run()
    assert not at.exception
    assert at.selectbox(key="depth-preset").value == "Custom"
    assert at.slider(key="depth-depth").value == 12


def test_init_help_follows_the_scheme_and_dead_units_are_shown(at):
    at.selectbox(key="depth-init").set_value("he").run()
    assert any("variance 2/fan_in" in c.value for c in at.caption)
    at.selectbox(key="depth-activation").set_value("ReLU").run()
    table = at.dataframe[0].value
    assert {"zero outputs %", "dead units %"} <= set(table.columns)
    assert all(v != "" for v in table["dead units %"])


def test_fifty_sigmoid_layers_are_measured_not_floored(at):
    at.slider(key="depth-depth").set_value(50).run()
    at.selectbox(key="depth-init").set_value("default").run()
    assert not at.exception
    assert first_last(chart(at, "depth-norms-chart")["data"][0]) > 0  # float32 gave 0 for the first layers
    assert "= **0**" not in markdown_text(at) and "(float64)" in markdown_text(at)


def test_session_model_option_measures_the_build_pages_network(at):
    at.radio(key="depth-source").set_value("The session's model").run()
    assert not at.exception and not at.error
    labels = chart(at, "depth-session-chart")["data"][0]["text"]
    assert any("Conv2d" in label for label in labels)  # the default session network, mnist-cnn
    assert labels[0].startswith("weight 1 · ") and not any(label.startswith("layer") for label in labels)
    assert chart(at, "depth-session-chart")["layout"]["xaxis"]["title"]["text"] == "weight (input → output)"
    assert any("mnist-cnn" in c.value and "mnist" in c.value.replace("mnist-cnn", "") for c in at.caption)
    at.radio(key="depth-source").set_value("Depth-lab MLP").run()
    assert has_chart(at, "depth-norms-chart")


def test_contrast_shows_both_networks(at):
    at.get("button_group")[0].set_value("Plain 20-layer vs residual 20-layer").run()
    assert not at.exception
    plain, residual = chart(at, "depth-contrast-chart")["data"]
    assert first_last(residual) > 1e3 * first_last(plain)  # the shortcuts keep the early layers' gradient
    assert "residual 20-layer: first / last layer" in markdown_text(at)


def test_radius_slider_vanishing_below_one_exploding_above(time_at):
    at = time_at
    at.slider(key="time-T").set_value(40).run()
    at.slider(key="time-radius").set_value(0.5).run()
    assert not at.exception
    small = chart(at, "time-norms-chart")["data"][0]
    text_small = markdown_text(at)
    at.slider(key="time-radius").set_value(1.5).run()
    assert not at.exception
    large = chart(at, "time-norms-chart")["data"][0]
    assert first_last(small) < 1e-3  # vanishing: the first step gets almost nothing
    assert first_last(large) > 100 * first_last(small)
    assert "ρ = 0.50" in small["name"] and "ρ = 1.50" in large["name"]
    assert markdown_text(at) != text_small  # σ_max is printed anew


def test_linear_regime_decays_below_one_and_grows_above(time_at):
    at = time_at
    at.slider(key="time-T").set_value(100).run()
    at.toggle(key="time-linear").set_value(True).run()
    at.slider(key="time-radius").set_value(0.5).run()
    small = chart(at, "time-norms-chart")["data"][0]
    at.slider(key="time-radius").set_value(1.5).run()
    assert not at.exception and not at.error
    large = chart(at, "time-norms-chart")["data"][0]
    assert first_last(small) < 1e-6 and first_last(large) > 1e3
    assert "saturated hidden states (|h| > 0.99, tanh' < 0.02): **0.0%**" in markdown_text(at)


def test_rescaling_by_sigma_max_prints_both(time_at):
    at = time_at
    at.radio(key="time-radius-kind").set_value("σ_max").run()
    at.slider(key="time-radius").set_value(0.9).run()
    assert not at.exception
    text = markdown_text(at)
    assert "σ_max = 0.900" in text and "spectral radius ρ = " in text
    assert "σ_max = 0.90" in chart(at, "time-norms-chart")["data"][0]["name"]


def test_gated_cells_show_their_own_path_with_live_gates(time_at):
    at = time_at
    at.selectbox(key="time-cell").set_value("LSTM").run()
    text = markdown_text(at)
    assert "Mean forget gate on this batch: **f̄ = 0." in text and "must vanish" not in text
    assert "‖∂L/∂c_1‖ / ‖∂L/∂c_T‖" in text
    names = [trace["name"] for trace in chart(at, "time-norms-chart")["data"]]
    assert names == ["LSTM, ρ = 1.00", "LSTM cell state c_t"]
    at.selectbox(key="time-cell").set_value("GRU").run()
    text = markdown_text(at)
    assert "Mean update gate on this batch: **z̄ = 0." in text and "must vanish" not in text
    at.selectbox(key="time-cell").set_value("RNN (ReLU)").run()
    text = markdown_text(at)
    assert "Active units (h > 0, slope 1) on this batch: **" in text and "must vanish" in text
    assert not any("nothing damps it" in c.value for c in at.caption)


def test_clipping_can_be_turned_off(time_at):
    at = time_at
    at.toggle(key="time-clip-on").set_value(False).run()
    assert not at.exception and at.slider(key="time-clip").disabled


@pytest.mark.parametrize("cell", ["RNN (ReLU)", "LSTM", "GRU"])
def test_every_cell_and_the_copy_task(time_at, cell):
    at = time_at
    at.selectbox(key="time-cell").set_value(cell)
    at.selectbox(key="time-task").set_value("copy")
    at.slider(key="time-T").set_value(10).run()
    assert not at.exception and not at.error
    assert len(chart(at, "time-norms-chart")["data"][0]["x"]) == 10


class _Experiment:
    """The runs of one Gradients experiment in the session's run book: their trainers and shared context."""

    def __init__(self, runs: list):
        self.runs = runs

    def __getitem__(self, key):
        return [r.trainer for r in self.runs] if key == "trainers" else self.runs[0].shared[key]


def runs(at: AppTest) -> dict:
    """The page's background runs in this AppTest session: experiment name -> its runs."""
    book = at.session_state["playground"].book
    return {name: _Experiment(book.of(name)) for name in ("depth", "time", "compare") if book.of(name)}


def trainers(at: AppTest) -> list:
    return [r.trainer for r in at.session_state["playground"].book.runs]


def poll_until_ended(at: AppTest, name: str, seconds: float = 90) -> None:
    """Rerun the page (as the fragment's ticks would) until run ``name`` has ended."""
    deadline = time.monotonic() + seconds
    while any(t.state not in TERMINAL for t in runs(at)[name]["trainers"]):
        assert time.monotonic() < deadline, f"run {name!r} did not end in {seconds} s"
        time.sleep(0.5)
        at.run()
        assert not at.exception
    at.run()  # the run may have ended during the last render: draw its final state once more
    assert not at.exception


@pytest.fixture
def live_at():
    """The page, and afterwards every run the test started is stopped (its thread gone)."""
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    yield app
    for trainer in trainers(app):
        assert trainer.stop()


def test_depth_live_run_draws_per_layer_curves(live_at):
    at = live_at
    at.slider(key="depth-depth").set_value(4).run()
    at.select_slider(key="depth-epochs").set_value(1).run()
    at.button(key="depth-start").click().run()
    assert not at.exception and not at.error
    poll_until_ended(at, "depth")
    at.run()  # the full rerun after the end (the last poll may have drawn the depth tab while it still ran)
    (trainer,) = runs(at)["depth"]["trainers"]
    assert trainer.state == "finished" and trainer.config.init == "normal-0.01"
    assert not trainer.thread.is_alive()
    lines = chart(at, "depth-steps-chart")["data"]
    assert len(lines) == 5  # one per Linear layer
    assert chart(at, "depth-steps-chart")["layout"]["yaxis"]["type"] == "log"
    assert has_chart(at, "depth-loss-chart")
    assert len(chart(at, "depth-norms-chart")["data"]) == 2  # at initialisation and after the run


def test_depth_stop_and_settings_change_end_the_run(live_at):
    at = live_at
    at.select_slider(key="depth-epochs").set_value(50).run()
    at.button(key="depth-start").click().run()
    (trainer,) = runs(at)["depth"]["trainers"]
    assert trainer.state in ("queued", "running")
    at.button(key="depth-stop").click().run()
    assert not at.exception
    assert trainer.state == "stopped" and not trainer.thread.is_alive()
    at.button(key="depth-start").click().run()
    (second,) = runs(at)["depth"]["trainers"]
    assert second is not trainer and second.state in ("queued", "running")
    at.slider(key="depth-depth").set_value(3).run()  # other settings: the run stops and is forgotten
    assert not at.exception
    assert second.state == "stopped" and not second.thread.is_alive()
    assert "depth" not in runs(at)


def test_time_live_run_clipping_and_snapshots(live_at):
    at = open_tab(live_at)
    at.slider(key="time-T").set_value(10).run()
    at.slider(key="time-clip").set_value(0.1).run()
    at.select_slider(key="time-seconds").set_value(10).run()
    at.button(key="time-start").click().run()
    assert not at.exception and not at.error
    time.sleep(2.5)
    at.run()
    run = runs(at)["time"]
    run["trainers"][0].stop()
    poll_until_ended(at, "time")
    raw, clipped = chart(at, "time-clip-chart")["data"][:2]
    assert raw["name"].startswith("raw") and clipped["name"].startswith("clipped")
    assert len(run["snaps"]) >= 2 and run["snap_steps"][0] == 0
    assert len(chart(at, "time-snapshots-chart")["data"]) == min(len(run["snaps"]), 10)
    for key in ("time-heatmap-chart", "time-loss-chart"):
        assert has_chart(at, key)
    assert any("Clipped on" in c.value for c in at.caption)


def test_side_by_side_trains_one_after_another_and_reports_measured_losses(live_at):
    at = open_tab(live_at)
    at.slider(key="time-T").set_value(10).run()
    at.radio(key="time-compare-budget").set_value("equal seconds").run()
    at.select_slider(key="time-compare-seconds").set_value(15).run()
    at.button(key="time-compare").click().run()
    assert not at.exception and not at.error
    rnn, lstm, gru = runs(at)["compare"]["trainers"]
    assert rnn.state in ("queued", "running") and lstm.state == gru.state == "idle"  # one at a time
    cells = ("RNN (tanh)", "LSTM", "GRU")
    live = chart(at, "time-compare-chart")
    assert [line["name"] for line in live["data"]] == [f"{cell}, at initialisation" for cell in cells]
    assert "at initialisation" in live["layout"]["title"]["text"]
    assert "after training" not in live["layout"]["title"]["text"]
    poll_until_ended(at, "compare", seconds=120)
    at.run()  # the full rerun after the end draws the verdict
    assert all(t.status.step > 0 and not t.thread.is_alive() for t in (rnn, lstm, gru))
    # Each trained cell measured on the same probe batch as at initialisation: dashed, in the cell's colour.
    ended = chart(at, "time-compare-chart")
    init_lines, after_lines = ended["data"][:3], ended["data"][3:]
    assert [line["name"] for line in after_lines] == [f"{cell}, after training" for cell in cells]
    assert "after training" in ended["layout"]["title"]["text"]
    assert [line["line"]["dash"] for line in ended["data"]] == ["solid"] * 3 + ["dash"] * 3
    assert [line["line"]["color"] for line in init_lines] == [line["line"]["color"] for line in after_lines]
    from engine.gradients import lab
    from ui.gradients.depth import PROBE

    probe = lab.probe_batch(lab.sequence_task("adding", 10), PROBE)
    for line, trainer in zip(after_lines, (rnn, lstm, gru)):
        np.testing.assert_allclose(ys(line), lab.trained_time_norms(trainer, *probe), rtol=1e-12)
    for line, cell in zip(init_lines, cells):
        np.testing.assert_array_equal(ys(line), runs(at)["compare"]["at_init"][cell])
    assert [line["name"] for line in chart(at, "time-compare-loss-chart")["data"]][:3] == ["RNN (tanh)", "LSTM",
                                                                                          "GRU"]
    text = markdown_text(at)
    assert "Measured: RNN (tanh):" in text and "LSTM:" in text and "GRU:" in text
    assert text.count("held-out loss **") == 3  # judged on sequences never trained on, not the training loss


def test_equal_step_comparisons_add_rows_to_the_verdict_table(live_at):
    at = open_tab(live_at)
    at.slider(key="time-T").set_value(8).run()
    assert at.radio(key="time-compare-budget").value == "equal steps"
    at.select_slider(key="time-compare-steps").set_value(100).run()
    for T in (8, 9):
        at.slider(key="time-T").set_value(T).run()
        at.button(key="time-compare").click().run()
        assert not at.exception and not at.error
        poll_until_ended(at, "compare", seconds=120)
        at.run()
        steps = [t.status.step for t in runs(at)["compare"]["trainers"]]
        assert steps == [t.loop.total_steps for t in runs(at)["compare"]["trainers"]] and min(steps) >= 100
        assert len(set(steps)) == 1  # the same budget for every cell, whatever the server's load
    table = at.dataframe[-1].value
    assert list(table["T"]) == [8, 9] and list(table["budget"]) == ["100 steps each"] * 2
    assert {"RNN (tanh)", "LSTM", "GRU"} <= set(table.columns)
    at.button(key="time-compare-clear").click().run()
    assert not any("time-compare-table" in d.proto.id for d in at.dataframe)


def test_long_sequence_preset_sets_what_the_comparison_trains(live_at):
    """The preset's values (pinned by the slow engine test) are the ones the page's comparison then trains."""
    import math

    from engine.gradients import lab

    at = open_tab(live_at)
    long = lab.LONG_SEQUENCES
    at.button(key="time-compare-long").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="time-task").value == long["task"] and at.slider(key="time-T").value == long["T"]
    assert at.select_slider(key="time-hidden").value == long["hidden"]
    assert at.radio(key="time-compare-budget").value == "equal steps"
    assert at.select_slider(key="time-compare-steps").value == long["steps"]
    at.button(key="time-compare").click().run()
    assert not at.exception and not at.error
    trainers = runs(at)["compare"]["trainers"]
    for trainer in trainers:
        trainer.stop()
    per_epoch = math.ceil(0.7 * 2000 / lab.BATCH)  # the adding problem's 2,000 sequences, 70% for training
    assert [t.spec.layers[0]["type"] for t in trainers] == ["RNN", "LSTM", "GRU"]
    for trainer in trainers:
        assert trainer.spec.input == [long["T"], 2] and trainer.spec.layers[0]["hidden_size"] == long["hidden"]
        assert (trainer.config.dataset, trainer.config.lr, trainer.config.clip_norm, trainer.config.seed) == \
            (long["task"], lab.COMPARE_LR, lab.COMPARE_CLIP, 0)
        assert trainer.loop.total_steps == math.ceil(long["steps"] / per_epoch) * per_epoch
