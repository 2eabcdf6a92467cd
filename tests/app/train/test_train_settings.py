"""Train page settings in AppTest: Adam's β₁/β₂ and RMSProp's α reach torch's optimiser; formulas next to the
optimiser and loss say what torch computes."""
import pytest
import torch
import torch.nn.functional as F

from engine.training import LOSSES
from tests.app.train.test_train import at, configure, wait_for  # noqa: F401 - the page fixture and helpers


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_adam_betas_reach_the_optimiser(at):
    configure(at, epochs=1)
    at.number_input(key="tr-beta1").set_value(0.8)
    at.number_input(key="tr-beta2").set_value(0.99).run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert trainer.config.betas == (0.8, 0.99)
    assert all(g["betas"] == (0.8, 0.99) for g in trainer.loop.optimizer.param_groups)


def test_rmsprop_alpha_reaches_the_optimiser(at):
    configure(at, epochs=1)
    at.selectbox(key="tr-opt").set_value("rmsprop").run()
    assert at.number_input(key="tr-alpha").value == pytest.approx(0.9)  # TrainConfig's default, not torch's 0.99
    at.number_input(key="tr-alpha").set_value(0.95).run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert all(g["alpha"] == pytest.approx(0.95) for g in trainer.loop.optimizer.param_groups)


def _caption_step(name: str, w, g, state: dict, t: int, lr=0.1, mu=0.9, alpha=0.9, b1=0.9, b2=0.999):
    """One step of the update rule exactly as the page's caption writes it."""
    if name == "sgd":
        return w - lr * g
    if name in ("momentum", "nesterov"):
        state["v"] = mu * state.get("v", 0) + g
        return w - lr * (g + mu * state["v"] if name == "nesterov" else state["v"])
    if name == "adagrad":
        state["G"] = state.get("G", 0) + g ** 2
        return w - lr * g / (state["G"].sqrt() + 1e-10)
    if name == "rmsprop":
        state["s"] = alpha * state.get("s", 0) + (1 - alpha) * g ** 2
        return w - lr * g / (state["s"].sqrt() + 1e-8)
    state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    state["s"] = b2 * state.get("s", 0) + (1 - b2) * g ** 2
    m_hat, s_hat = state["m"] / (1 - b1 ** t), state["s"] / (1 - b2 ** t)
    return w - lr * m_hat / (s_hat.sqrt() + 1e-8)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_each_optimiser_caption_is_the_step_torch_takes(name):
    """On f(w) = Σ w²/2 from w = (1, −2), three steps of the caption's rule equal torch.optim's."""
    from engine.training import TrainConfig, make_optimizer

    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
    opt = make_optimizer(model, TrainConfig(optimizer=name, momentum=0.9, alpha=0.9), 0.1)
    mine, state = torch.tensor([[1.0, -2.0]]), {}
    for t in range(1, 4):
        opt.zero_grad()
        (model.weight ** 2 / 2).sum().backward()
        opt.step()
        mine = _caption_step(name, mine, mine.clone(), state, t)  # ∇(w²/2) = w
    assert torch.allclose(model.weight.detach(), mine, atol=1e-6)


def test_hinge_caption_matches_multi_margin_loss(at):
    at.selectbox(key="tr-loss").set_value("hinge").run()
    assert "(1/C)" in _captions(at)  # torch's MultiMarginLoss divides by the number of classes
    assert LOSSES["hinge"].formula in [c.value for c in at.caption]
    scores, target = torch.tensor([[3.2, 5.1, -1.7]]), torch.tensor([0])
    textbook = 2.9  # CS231n: max(0, 5.1 − 3.2 + 1) + max(0, −1.7 − 3.2 + 1)
    assert F.multi_margin_loss(scores, target).item() == pytest.approx(textbook / 3)


def test_each_optimiser_shows_its_formula(at):
    from engine.training import OPTIMIZERS

    for name, words in (("sgd", "w ← w − η·g"), ("nesterov", "look-ahead"), ("adagrad", "1e-10"),
                        ("rmsprop", "α·s"), ("adam", "β₂")):
        at.selectbox(key="tr-opt").set_value(name).run()
        assert words in _captions(at), name
        assert OPTIMIZERS[name].formula in [c.value for c in at.caption]  # the engine's text, not a copy
    assert not at.exception


def test_each_optimiser_shows_the_widgets_of_the_settings_it_owns(at):
    from engine.training import OPTIMIZERS

    widgets = {"momentum": ("tr-momentum",), "betas": ("tr-beta1", "tr-beta2"), "alpha": ("tr-alpha",)}
    for name, optimizer in OPTIMIZERS.items():
        at.selectbox(key="tr-opt").set_value(name).run()
        shown = {w.key for w in [*at.slider, *at.number_input]}
        for setting, keys in widgets.items():
            assert all((key in shown) == (setting in optimizer.settings) for key in keys), (name, setting)
        assert at.number_input(key=f"tr-lr-{name}").value == pytest.approx(
            optimizer.default_lr if name != "adam" else 0.03)  # Adam's comes from the dataset (circle: 0.03)
    assert not at.exception
