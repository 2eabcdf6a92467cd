"""SavedRun: an ended run brought back from storage reads like the Trainer it came from."""
import pytest
import torch

from engine.errors import InputError
from engine.training import Checkpoint, SavedRun, TrainConfig, Trainer, evaluate
from tests.engine.run_helpers import toy_mlp


@pytest.fixture(scope="module")
def ended(circle):
    trainer = Trainer(toy_mlp(), TrainConfig(epochs=2, batch_size=16, device="cpu", metrics_every=1), dataset=circle)
    trainer.start()
    trainer.thread.join(30)
    assert trainer.state == "finished"
    return trainer


def test_a_saved_run_gives_back_the_trainers_numbers(ended, circle):
    saved = SavedRun(ended.spec, ended.config, ended.state, ended.records(), ended.weights(), dataset=circle)
    assert saved.records() == ended.records() and saved.record_count == ended.record_count
    assert saved.records(since=3) == ended.records(since=3)
    status, live = saved.status, ended.status
    assert (status.state, status.step, status.total_steps, status.epoch) == \
        (live.state, live.step, live.total_steps, live.epoch)
    assert saved.loop.batches_per_epoch == ended.loop.batches_per_epoch
    x = circle.x_test
    with torch.no_grad():  # the rebuilt model computes what the trained one computes
        assert torch.allclose(saved.model(x), ended.model.eval()(x), atol=1e-6)
    assert evaluate(saved.model, circle, "test")["accuracy"] == evaluate(ended.model, circle, "test")["accuracy"]


def test_a_saved_end_overrides_a_lagging_last_record(ended, circle):
    """Records come every few steps: the stored end gives the exact final step, epoch and time."""
    live = ended.status
    lagging = ended.records()[:-1]
    saved = SavedRun(ended.spec, ended.config, "stopped", lagging, dataset=circle,
                     end={"step": live.step, "epoch": live.epoch, "elapsed": live.elapsed})
    assert (saved.status.step, saved.status.epoch, saved.status.elapsed) == (live.step, live.epoch, live.elapsed)
    unread = SavedRun(ended.spec, ended.config, "stopped", lagging, dataset=circle,
                      end={"step": "12", "epoch": True, "elapsed": float("nan")})  # not numbers: the records say
    assert unread.status.step == lagging[-1]["step"] and unread.status.epoch == int(lagging[-1].get("epoch", 0))


def test_a_saved_run_loads_its_data_again_from_its_settings(ended, circle):
    saved = SavedRun(ended.spec, TrainConfig(dataset="circle", dataset_options={"n": 200}, epochs=2, batch_size=16),
                     "interrupted", ended.records()[:3], None)
    assert torch.equal(saved.dataset.x_test, circle.x_test)  # same name, seed and options: the same split
    assert saved.status.state == "interrupted" and not saved.has_weights
    with pytest.raises(InputError, match="weights were not kept"):
        saved.model
    saved.heartbeat(), saved.pause()
    assert saved.stop() and saved.thread is None


def test_a_live_state_is_refused(ended):
    with pytest.raises(InputError, match="must have ended"):
        SavedRun(ended.spec, ended.config, "running", [], None)


def test_an_interrupted_run_resumes_from_its_stored_checkpoint(circle):
    """Weights and a one-blob state, as a database keeps them: the resumed run ends where the whole one does."""
    config = TrainConfig(epochs=2, batch_size=16, device="cpu", optimizer="adam", metrics_every=1)
    whole = Trainer(toy_mlp(), config, dataset=circle)
    for _ in range(whole.loop.total_steps):
        whole.step()
    cut = Trainer(toy_mlp(), config, dataset=circle)
    for _ in range(5):
        cut.step()
    cp = cut.checkpoint()
    stored = Checkpoint.from_blobs(cp.weights, cp.state_blob())
    assert stored == cp
    saved = SavedRun(cut.spec, config, "interrupted", cut.records(), cp.weights, dataset=circle,
                     checkpoint=lambda: stored)
    assert saved.resumable
    resumed = Trainer(saved.spec, config, dataset=circle, resume=saved.checkpoint())
    while resumed.loop.step < resumed.loop.total_steps:
        resumed.step()
    for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(InputError):
        Checkpoint.from_blobs(cp.weights, b"not a checkpoint")
    with pytest.raises(InputError, match="optimiser state"):
        SavedRun(cut.spec, config, "interrupted", [], cp.weights).checkpoint()


def test_a_saved_autoencoder_run_reloads_its_data_as_reconstruction():
    """As its loop trained it: each image its own target, so its test loss is torch's MSE to the input."""
    from engine.network import presets

    spec = presets.get("autoencoder")
    saved = SavedRun(spec, TrainConfig(dataset="mnist", epochs=1), "finished", [], None)
    ds = saved.dataset
    assert ds.task == "reconstruction" and ds.y_test is ds.x_test and ds.labels["test"].max() == 9
    model = Trainer(spec, TrainConfig(dataset="mnist", epochs=1), dataset=ds).model.eval()
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(model(ds.x_test), ds.x_test).item()
    assert evaluate(model, ds, "test")["loss"] == pytest.approx(expected, rel=1e-5)
