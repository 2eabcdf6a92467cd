"""Bad checkpoints to resume a run from: corrupt, truncated or foreign blobs, another network, optimiser, dataset
or batch size, a finished run, nonsense counters.

Each is refused by ``Trainer(..., resume=checkpoint)`` (engine.training.checkpoint.restore) with an InputError
that says what does not fit; nothing in a checkpoint is ever unpickled.
"""
import dataclasses

import pytest

from engine import data
from engine.errors import InputError
from tests.engine.run_helpers import toy_mlp
from tests.engine.training.test_train_checkpoint import config, steps, trainer


@pytest.fixture(scope="module")
def circle():
    return data.load("circle", 0, n=200)


@pytest.fixture(scope="module")
def checkpoint(circle):
    """Seven steps of Adam on circle (mid-epoch 2 of 3)."""
    return steps(trainer(toy_mlp(), config("adam"), circle), 7).checkpoint()


def other_network():
    """toy-mlp with 5 units in its first layer: as many tensors, other shapes."""
    spec = toy_mlp()
    return spec.copy(layers=[dict(spec.layers[0], out_features=5), *spec.layers[1:]])


def _resume(checkpoint, spec=None, ds=None, **settings):
    ds = ds if ds is not None else data.load("circle", 0, n=200)
    return trainer(spec or toy_mlp(), config(**{"optimizer": "adam", **settings}), ds, resume=checkpoint)


@pytest.mark.parametrize("change, message", [
    (dict(optimizer=b"not a checkpoint at all"), "optimiser state is not a safetensors blob"),
    (dict(progress=b"\x80\x04\x95 a pickle"), "progress is not a safetensors blob"),
    (dict(weights=b"junk" * 10), "weights do not fit this run: not a weights file"),
    (dict(step=10 ** 6), "do not agree with 5 batches per epoch"),
    (dict(epoch=-1), "bad epoch"),
    (dict(records="3"), "bad records"),
    (dict(optimizer=None), "optimiser state is not a safetensors blob"),
])
def test_corrupt_fields_are_refused(checkpoint, change, message):
    with pytest.raises(InputError, match=message):
        _resume(dataclasses.replace(checkpoint, **change))


@pytest.mark.parametrize("cut", [-20, 40])
def test_truncated_optimiser_state_is_refused(checkpoint, cut):
    blob = checkpoint.optimizer[:cut]
    with pytest.raises(InputError, match="the checkpoint's optimiser state is"):
        _resume(dataclasses.replace(checkpoint, optimizer=blob))


def test_safetensors_without_our_header_are_refused(checkpoint):
    with pytest.raises(InputError, match="progress has no playground header"):
        _resume(dataclasses.replace(checkpoint, progress=checkpoint.weights))


def test_something_else_than_a_checkpoint_is_refused(checkpoint):
    with pytest.raises(InputError, match="resume needs a Checkpoint"):
        _resume({"weights": checkpoint.weights})


def test_another_optimisers_state_is_refused(checkpoint):
    with pytest.raises(InputError, match="state of the adam optimiser but this run uses momentum"):
        _resume(checkpoint, optimizer="momentum")


def test_another_networks_weights_are_refused(checkpoint):
    with pytest.raises(InputError, match="weights do not fit this run: these weights do not match the network"):
        _resume(checkpoint, spec=other_network())


def test_another_networks_optimiser_state_is_refused(circle, checkpoint):
    foreign = steps(trainer(other_network(), config("adam"), circle), 7).checkpoint()
    mixed = dataclasses.replace(checkpoint, optimizer=foreign.optimizer)  # the right weights, foreign moments
    with pytest.raises(InputError, match=r"parameter 0 has shape \(5, 2\), the network's is \(8, 2\)"):
        _resume(mixed)


def test_another_batch_size_is_refused(checkpoint):
    with pytest.raises(InputError, match="batch size 32, this run has 16: resume with the same batch size"):
        _resume(checkpoint, batch_size=16)


def test_another_dataset_is_refused(checkpoint):
    with pytest.raises(InputError, match="taken on circle .* this run trains on xor"):
        _resume(checkpoint, ds=data.load("xor", n=200), dataset="xor")


def test_a_run_with_no_steps_left_is_refused(checkpoint):
    with pytest.raises(InputError, match="step 7 of a run with 5 steps: nothing is left to train"):
        _resume(checkpoint, epochs=1)


def test_a_finished_run_cannot_be_resumed(circle):
    run = steps(trainer(toy_mlp(), config(epochs=1), circle), 5)
    assert run.state == "finished"
    with pytest.raises(InputError, match="after the run ended \\(finished\\): there is nothing to resume"):
        _resume(run.checkpoint(), optimizer="momentum", epochs=2)
