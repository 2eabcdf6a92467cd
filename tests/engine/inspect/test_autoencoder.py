"""Autoencoders: the Unflatten layer, the presets, the reconstruction task (MSE/BCE, denoising) and looking inside
(reconstructions, codes and their PCA, interpolation), each checked against PyTorch itself."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from torch import nn

from engine import InputError, ModelSpec, SpecError, build, data, inspect, summarize, to_pytorch_code
from engine.inspect import autoencoder
from engine.network import presets
from engine.training import TrainConfig, compute_loss, evaluate, figures
from engine.training.loop import Loop


@pytest.fixture(scope="module")
def digits():
    return data.reconstruction(data.load("mnist", seed=0))


@pytest.fixture(scope="module")
def model():
    return build(presets.get("autoencoder"), seed=3)


def test_unflatten_is_torchs_and_checks_the_size():
    spec = ModelSpec.from_dict({"input": [2, 3], "layers": [
        {"type": "Flatten"}, {"type": "Linear", "out_features": 12}, {"type": "Unflatten", "unflattened_size": [3, 2, 2]}]})
    net = build(spec, seed=0)
    ref = nn.Sequential(nn.Flatten(), nn.Linear(6, 12), nn.Unflatten(1, (3, 2, 2)))
    ref.load_state_dict(net.state_dict())
    x = torch.randn(4, 2, 3)
    assert summarize(spec).output_shape == (3, 2, 2) and torch.equal(net(x), ref(x))
    namespace = {}
    exec(to_pytorch_code(spec), namespace)  # the exported file builds the same layer
    assert "nn.Unflatten(dim=1, unflattened_size=(3, 2, 2))" in to_pytorch_code(spec)
    for layers, message in [([{"type": "Flatten"}, {"type": "Unflatten", "unflattened_size": [5]}], "holds 5 values"),
                            ([{"type": "Unflatten", "unflattened_size": [6]}], "put a Flatten"),
                            ([{"type": "Flatten"}, {"type": "Unflatten", "unflattened_size": [1, 1, 2, 3]}], "1 to 3"),
                            ([{"type": "Flatten"}, {"type": "Unflatten", "unflattened_size": [0, 6]}], "at least 1")]:
        with pytest.raises(SpecError, match=message):
            summarize(ModelSpec.from_dict({"input": [2, 3], "layers": layers}))


@pytest.mark.parametrize("name, params, code_size", [("autoencoder", 561_934, 150), ("conv-autoencoder", 2_633, 392)])
def test_presets_map_images_to_images_through_a_bottleneck(name, params, code_size):
    spec = presets.get(name)
    net = build(spec, seed=0)
    assert summarize(spec).total_params == sum(p.numel() for p in net.parameters()) == params
    assert data.autoencodes(spec) and not data.autoencodes(presets.get("mnist-cnn"))
    with torch.no_grad():
        out = net(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 1, 28, 28) and 0 < float(out.min()) and float(out.max()) < 1  # the Sigmoid's range
    i = autoencoder.bottleneck(net, (1, 28, 28))
    assert autoencoder.layer_sizes(net, (1, 28, 28))[i] == code_size
    assert type(net[i]).__name__ == "ReLU"  # the code is the activation after the narrowest layer


def test_bce_is_torchs_and_only_for_reconstruction():
    p, t = torch.rand(4, 1, 5, 5), torch.rand(4, 1, 5, 5)
    assert torch.equal(compute_loss("bce", p, t), F.binary_cross_entropy(p, t))
    with pytest.raises(InputError, match="cross-entropy"):
        Loop(presets.get("xo-cnn"), TrainConfig(dataset="xo", loss="bce", device="cpu"))
    with pytest.raises(InputError, match="use mse or bce"):
        Loop(presets.get("autoencoder"), TrainConfig(dataset="mnist", loss="hinge", device="cpu"))


def first_batch_loss(spec, digits, **settings) -> tuple[float, float]:
    """The loop's first recorded training loss, and the same loss computed directly with torch."""
    config = TrainConfig(dataset="mnist", batch_size=16, device="cpu", seed=5, **settings)
    loop = Loop(spec, config, digits)
    record = loop.train_batch()[0]
    assert loop.task == "reconstruction" and record["train_acc"] is None
    net = build(loop.spec, seed=5)  # the run's initial weights
    idx = torch.randperm(len(digits.x_train), generator=torch.Generator().manual_seed(5))[:16]
    x = digits.x_train[idx]
    noisy = x + config.noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(5 + 2))
    loss = F.binary_cross_entropy if config.loss == "bce" else F.mse_loss
    return record["train_loss"], float(loss(net(noisy), x))  # the target is the clean image


@pytest.mark.parametrize("loss, noise", [("mse", 0.0), ("bce", 0.0), ("mse", 0.4)])
def test_training_loss_is_torchs_on_the_noisy_input_against_the_clean_image(digits, loss, noise):
    got, expected = first_batch_loss(presets.get("autoencoder"), digits, loss=loss, noise=noise)
    assert got == pytest.approx(expected, rel=1e-5)


def test_a_labelled_image_set_trains_an_autoencoder_as_reconstruction():
    loop = Loop(presets.get("conv-autoencoder"), TrainConfig(dataset="mnist", epochs=1, batch_size=500, device="cpu"))
    records = []
    while not loop.outcome:
        records += loop.train_batch()
    epoch = records[-1]
    assert loop.dataset.task == "reconstruction" and any("autoencoder" in n for n in loop.run_notes)
    assert epoch["kind"] == "epoch" and epoch["val_acc"] is None and epoch["train_acc"] is None
    result = evaluate(loop.model, loop.dataset, "val")
    assert result["accuracy"] is None and result["confusion"] is None
    x = loop.dataset.x_val
    with torch.no_grad():
        loop.model.eval()
        assert result["loss"] == pytest.approx(float(F.mse_loss(loop.model(x), x)), rel=1e-5)
    assert epoch["val_loss"] == pytest.approx(result["loss"], rel=1e-5)


def test_bce_needs_a_sigmoid_and_noise_needs_real_inputs(digits):
    no_sigmoid = presets.get("autoencoder").copy(layers=[l for l in presets.get("autoencoder").layers
                                                         if l["type"] != "Sigmoid"])
    with pytest.raises(InputError, match="Sigmoid"):
        Loop(no_sigmoid, TrainConfig(dataset="mnist", loss="bce", device="cpu"), digits)
    with pytest.raises(InputError, match="token ids"):
        Loop(presets.get("char-rnn"), TrainConfig(dataset="hello", noise=0.1, device="cpu"))
    with pytest.raises(InputError, match="noise must be"):
        TrainConfig(noise=-1.0).check()
    with pytest.raises(InputError, match="reconstructs images"):
        data.reconstruction(data.load("circle"))


def test_reconstructions_are_the_models_outputs(model, digits):
    originals, recon = inspect.reconstructions(model, digits, n=5)
    x = digits.x_test[:5]
    with torch.no_grad():
        assert np.array_equal(originals, x.numpy()) and np.allclose(recon, model(x).numpy(), atol=1e-6)
    with pytest.raises(InputError, match="not an autoencoder"):
        inspect.reconstructions(build(presets.get("mnist-cnn"), seed=0), digits)


def test_codes_are_the_bottleneck_and_their_pca_is_sklearns_up_to_sign(model, digits):
    codes = inspect.codes(model, digits)
    with torch.no_grad():
        z = model[:codes.layer + 1](digits.x_test).numpy()
    assert codes.layer == 4 and codes.z.shape == (750, 150) and np.allclose(codes.z, z, atol=1e-6)
    assert np.array_equal(codes.labels, digits.labels["test"].numpy())
    pca = PCA(n_components=2).fit(z.astype(np.float64))
    reference = pca.transform(z.astype(np.float64))
    signs = np.sign((codes.xy * reference).sum(axis=0))
    assert np.allclose(codes.xy * signs, reference, atol=1e-4)
    assert np.allclose(codes.explained, pca.explained_variance_ratio_, atol=1e-6)
    assert inspect.codes(model, digits, layer=2).z.shape == (750, 300)


def test_interpolation_ends_at_the_models_own_reconstructions(model, digits):
    a, b = digits.x_test[0], digits.x_test[1]
    path = inspect.interpolate(model, a, b, steps=5)
    encoder, decoder = autoencoder.split(model, (1, 28, 28))
    with torch.no_grad():
        ends = model(torch.stack([a, b])).numpy()
        middle = decoder((encoder(a[None]) + encoder(b[None])) / 2).numpy()
    assert path.shape == (5, 1, 28, 28)
    assert np.allclose(path[0], ends[0], atol=1e-6) and np.allclose(path[-1], ends[1], atol=1e-6)
    assert np.allclose(path[2], middle[0], atol=1e-6) and model.training  # the model's mode is left as it was
    with pytest.raises(InputError, match="steps"):
        inspect.interpolate(model, a, b, steps=1)


def test_figures(model, digits):
    originals, recon = inspect.reconstructions(model, digits, n=4)
    grid = figures.reconstruction_figure(originals, recon)
    z = grid.data[0].z
    assert len(grid.data) == 1 and np.asarray(z).shape == (2 * 28 + 1, 4 * 28 + 3)
    assert [a.text for a in grid.layout.annotations] == ["original", "reconstruction"]
    codes = inspect.codes(model, digits)
    scatter = inspect.figures.code_scatter(codes.xy, codes.labels, digits.classes, codes.explained)
    assert [t.name for t in scatter.data] == digits.classes
    assert sum(len(t.x) for t in scatter.data) == 750 and "% of the variance" in scatter.layout.xaxis.title.text
    strip = inspect.figures.interpolation_figure(inspect.interpolate(model, digits.x_test[0], digits.x_test[1], 6))
    assert np.asarray(strip.data[0].z).shape == (28, 6 * 28 + 5)
