"""Train page run comparison in AppTest: ReLU and tanh runs told apart, every ended run evaluated, Show never
adopts, "Use this network" does; no empty accuracy chart for regression; the epoch-mean training curve."""
import json

import pytest
import torch

import engine
from engine.training import evaluate
from tests.app.train.test_train import at, configure, runs, wait_for  # noqa: F401 - the page fixture and helpers


def _mlp(activation: str) -> engine.ModelSpec:
    return engine.ModelSpec.from_dict({"name": "mlp", "input": [2], "layers": [
        {"type": "Linear", "out_features": 8}, {"type": activation}, {"type": "Linear", "out_features": 2}]})


def _train(at, spec, epochs=1):
    at.session_state["playground"].set_spec(spec)
    configure(at, epochs=epochs)
    at.button(key="tr-start").click().run()
    return wait_for(at, ("finished",))


def test_relu_and_tanh_runs_are_told_apart_and_all_evaluated(at):
    relu = _train(at, _mlp("ReLU"))
    tanh = _train(at, _mlp("Tanh"))
    first, second = (r.label for r in runs(at))
    assert "ReLU" in first and "Tanh" in second
    assert "3 layers" in first and "42 params" in first  # 2·8+8 + 8·2+2
    table = at.dataframe[0].value
    assert {"network", "optimiser", "η", "batch", "epochs", "seed", "train loss", "train acc", "val loss", "val acc",
            "test acc", "time (s)"} <= set(table.columns)
    assert list(table["network"]) == ["3 layers, ReLU, 42 params", "3 layers, Tanh, 42 params"]
    assert list(table["optimiser"]) == ["adam", "adam"] and list(table["η"]) == ["0.03", "0.03"]
    # Both runs have test numbers, though only the second was shown; they are the engine's own evaluation.
    for trainer, row in zip((relu, tanh), table.to_dict("records")):
        expected = evaluate(trainer.model, trainer.dataset, "test")["accuracy"]
        assert float(row["test acc"]) == pytest.approx(expected, abs=1e-4)
        last = [r for r in trainer.records() if r["kind"] == "epoch"][-1]
        assert float(row["train loss"]) == pytest.approx(last["train_loss"], abs=1e-4)
        assert row["epochs"] == "1/1" and float(row["time (s)"]) >= 0
    assert not at.exception


def test_show_never_replaces_the_network_use_this_network_does(at):
    relu = _train(at, _mlp("ReLU"))
    session = at.session_state["playground"]
    assert session.adopted == [1] and session.trained  # the run that just ended on the Build network is adopted
    _train(at, _mlp("Tanh"))
    assert session.adopted == [1, 2]
    version = session.version
    at.selectbox(key="tr-run-pick").set_value(runs(at)[0].label)
    at.button(key="tr-show").click().run()
    assert session.spec.layers[1]["type"] == "Tanh" and session.version == version  # only shown
    assert any("Use this network" in c.value for c in at.caption)
    at.button(key="tr-adopt").click().run()
    assert session.spec.layers[1]["type"] == "ReLU" and session.adopted == [1, 2, 1]
    assert session.dataset["name"] == "circle" and session.dataset["seed"] == 0
    adopted = session.model.state_dict()
    assert all(torch.equal(adopted[k], v.cpu()) for k, v in relu.model.state_dict().items())
    assert any("is the session's model" in c.value for c in at.caption)
    assert not at.exception


def test_a_run_on_a_changed_network_is_not_adopted_by_itself(at):
    at.session_state["playground"].set_spec(_mlp("ReLU"))
    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    at.button(key="tr-pause").click().run()
    at.session_state["playground"].set_spec(_mlp("ELU"))  # the student moved on while it trained
    at.button(key="tr-stop").click().run()
    wait_for(at, ("stopped",))
    assert at.button(key="tr-adopt")
    session = at.session_state["playground"]
    assert session.adopted == [] and not session.trained and session.spec.layers[1]["type"] == "ELU"


def test_regression_runs_get_no_accuracy_chart(at):
    at.session_state["playground"].set_spec(engine.ModelSpec.from_dict({"input": [50, 2], "layers": [
        {"type": "RNN", "hidden_size": 8, "output": "last"}, {"type": "Linear", "out_features": 1}]}))
    configure(at, dataset="adding", epochs=1)
    at.button(key="tr-start").click().run()
    wait_for(at, ("finished",))
    keys = [c.proto.id for c in at.get("plotly_chart")]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Accuracy" not in titles, (keys, titles)
    assert titles.count("Loss") == 2  # the live chart and the comparison
    assert not at.exception


def test_the_loss_chart_has_the_epoch_mean_training_loss(at):
    trainer = _train(at, _mlp("ReLU"), epochs=2)
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    trace = next(t for t in chart["data"] if t["name"] == "train (epoch mean)")
    epochs = [r for r in trainer.records() if r["kind"] == "epoch"]
    assert trace["x"] == [1, 2]
    assert trace["y"] == pytest.approx([r["train_loss"] for r in epochs])
