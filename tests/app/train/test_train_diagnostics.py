"""Issue 21 items 1-3 on the Train page: the Diagnostics tab draws histograms over time, one step's histograms, unit
health with its warnings and update ratios, for a live run, an ended one and one restored from the workspace."""
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.diagnostics import series
from engine.network.init import depth_lab
from engine.workspace import RunRecord
from tests.app.train.test_train import runs, wait_for
from ui.core import workspace
from ui.core.session import SessionState
from ui.train import diagnostics

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "3_Train.py")
DEEP = engine.network.presets.get("deep-mlp")
RELU_HE = depth_lab("10-layer ReLU, He init")[0]


def _page(spec=None, token=None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    if spec is not None:
        at.session_state["playground"] = SessionState(spec=spec)
    if token is not None:
        at.query_params[workspace.PARAM] = token
    at.session_state[diagnostics.TAB] = at.query_params[diagnostics.TAB] = "Diagnostics"
    at.run()
    assert not at.exception, at.exception
    return at


def _configure(at, lr=1.0, init="default"):
    """digits, Adam, 2 epochs of batches of 8 (~300 steps: histograms every 50, unit health at 1 and 200)."""
    at.selectbox(key="tr-dataset").set_value("digits").run()
    at.selectbox(key="tr-init").set_value(init)
    at.number_input(key="tr-epochs").set_value(2)
    at.number_input(key="tr-batch").set_value(8)
    at.number_input(key="tr-lr-adam").set_value(lr)
    at.run()
    assert not at.exception, at.exception


def _has_diagnostics(at) -> bool:
    keys = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    return (any("over training" in k for k in keys) and any("per layer at step" in k for k in keys)
            and any("‖Δw‖/‖w‖" in k for k in keys))


def _saturation_warnings(at) -> list[str]:
    return [w.value for w in at.warning if "saturated" in w.value]


@pytest.fixture
def stopper():
    pages = []
    yield pages.append
    for at in pages:
        for run in runs(at):
            run.trainer.stop()


def test_sigmoid_deep_mlp_warns_of_saturation_live_ended_and_restored(stopper):
    at = _page(DEEP)
    stopper(at)
    _configure(at, lr=1.0)
    at.button(key="tr-start").click().run()
    assert not at.exception, at.exception
    trainer = wait_for(at, ("finished",), timeout=120)
    assert not at.exception, at.exception
    assert at.radio(key=diagnostics.QUANTITY).value == "act"
    assert _has_diagnostics(at)
    records = trainer.records()
    expected = series.warnings(records)
    assert any(w["what"] == "saturated" for w in expected)  # decided by the engine's records
    shown = _saturation_warnings(at)
    assert len(shown) == len([w for w in expected if w["what"] == "saturated"])
    assert any(w["layer"] in text for w in expected for text in shown)
    assert any("σ(x)" in m.value or r"\sigma" in m.value for m in at.get("latex"))
    # the step slider shows the chosen step's histograms
    steps = series.steps(records)
    assert at.select_slider(key=diagnostics.STEP).value == steps[-1]
    at.select_slider(key=diagnostics.STEP).set_value(steps[1]).run()
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert f"Activations per layer at step {steps[1]}" in titles
    # another quantity: weight gradients
    at.radio(key=diagnostics.QUANTITY).set_value("grad").run()
    assert not at.exception, at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("weight gradients over training" in t for t in titles)

    # restored from the workspace in a fresh session: the stored records draw the same diagnostics
    store = store_mod.get_store()
    token = store.create(spec=DEEP.to_dict())
    run = runs(at)[-1]
    store.save_run(token, RunRecord(1, label="#1 restored", spec=run.trainer.spec.to_dict(),
                                    config=run.config.to_dict(), state="finished", records=records))
    again = _page(token=token)
    assert runs(again) and not runs(again)[-1].live
    assert _has_diagnostics(again)
    assert len(_saturation_warnings(again)) == len(shown)


def test_relu_he_network_has_no_warning(stopper):
    at = _page(RELU_HE)
    stopper(at)
    _configure(at, lr=0.001, init="he")
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",), timeout=120)
    assert not at.exception, at.exception
    assert series.health(trainer.records())  # unit health was measured
    assert series.warnings(trainer.records()) == []
    assert _has_diagnostics(at)
    assert not [w for w in at.warning if "units of layer" in w.value]
    at.query_params["present"] = "1"  # presenter mode draws the same, scaled
    at.run()
    assert not at.exception, at.exception
    assert _has_diagnostics(at)


def test_a_live_run_draws_the_diagnostics_while_it_trains(stopper):
    at = _page(DEEP)
    stopper(at)
    _configure(at, lr=0.01)
    at.number_input(key="tr-epochs").set_value(50)
    at.run()
    at.button(key="tr-start").click().run()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not series.steps(runs(at)[-1].trainer.records()):
        time.sleep(0.2)
    at.run()
    assert runs(at)[-1].live
    assert not at.exception, at.exception
    assert _has_diagnostics(at)
