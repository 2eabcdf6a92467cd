"""The Gradients page's names for weights and activations: unique rows, and no "layer" that is not one (review)."""
import pytest
import torch
from torch import nn

from engine import data
from engine.gradients import activation_stats, figures, lab
from engine.network import presets


def _names(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[str]:
    labels, _ = lab.weight_norms(model, x, y)
    return lab.activation_names(labels, activation_stats(model, x))


class _Residual(nn.Module):
    """A residual block as ``build`` makes them: numbered children, the last one a ReLU ("0.0 Linear", "0.1 ReLU")."""

    def __init__(self):
        super().__init__()
        self.add_module("0", nn.Linear(6, 6))
        self.add_module("1", nn.ReLU())

    def forward(self, x):
        return self.get_submodule("1")(self.get_submodule("0")(x) + x)


NETWORKS = {
    "ReLU then Sigmoid": lambda: nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Sigmoid(), nn.Linear(6, 3)),
    "ReLU then ReLU": lambda: nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.ReLU(), nn.Linear(6, 3)),
    "a residual block's ReLU, then ReLU": lambda: nn.Sequential(_Residual(), nn.ReLU(), nn.Linear(6, 3)),
    "two before the first weight": lambda: nn.Sequential(nn.Tanh(), nn.Tanh(), nn.Linear(6, 3)),
}


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_activation_names_are_unique(make):
    torch.manual_seed(0)
    model = make()
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    names = _names(model, x, y)
    assert len(names) == len(activation_stats(model, x)) >= 2
    assert len(set(names)) == len(names), names
    heat = figures.activations_figure(activation_stats(model, x), names)
    assert len(set(heat.data[0].y)) == heat.data[0].z.shape[0]  # one row each: Plotly merges rows of one name


def test_unique_names_keep_the_layer_they_follow():
    names = lab.activation_names(["0 Linear", "3 Linear"], [{"name": "1 ReLU"}, {"name": "2 ReLU"}])
    assert names[0].startswith("layer 1 · ReLU") and names[1].startswith("layer 1 · ReLU")
    assert "1" in names[0].split("ReLU")[1] and "2" in names[1].split("ReLU")[1]  # told apart by module


def _session(preset: str):
    spec = presets.get(preset)
    ds = data.load(data.fit(spec))
    model, _ = lab.fitted_model(spec, None, ds)
    x, y = ds.x_train[:8], ds.y_train[:8]
    labels, norms = lab.weight_norms(model, x, y)
    return model, x, labels, norms


@pytest.mark.parametrize("preset", ["resnet-mini", "char-rnn"])
def test_the_session_view_numbers_weights_not_layers(preset):
    model, x, labels, norms = _session(preset)
    names = lab.layer_names(labels, word="weight")
    assert names == [f"weight {k}" for k in range(1, len(labels) + 1)]
    chart = figures.layer_norms_figure({preset: (labels, norms)}, word="weight")
    assert chart.layout.xaxis.title.text == "weight (input → output)"
    assert all("layer" not in t for t in chart.data[0].text)  # "weight 3 · 1 RNN weight_hh_l0"
    stats = activation_stats(model, x)
    for name in lab.activation_names(labels, stats, word="weight"):
        assert "layer" not in name and "weight" in name


def test_char_rnn_matrices_are_two_weights_of_one_module():
    _, _, labels, _ = _session("char-rnn")
    rnn = [name for name, label in zip(lab.layer_names(labels, word="weight"), labels) if "RNN" in label]
    assert rnn == ["weight 2", "weight 3"]
