"""A run's weight trajectory: its snapshots stay within 20 and the byte cap, its principal directions and projections
equal numpy's SVD, and it is kept with the run's weights (out of downloads, through the workspace store)."""
import numpy as np
import pytest
import torch
from run_helpers import toy_mlp

from engine import InputError, limits
from engine.network.build import build
from engine.training import (MOST_SNAPSHOTS, SavedRun, Snapshots, TrainConfig, Trainer, load_weights, principal_axes,
                             principal_plane, read_weights, trajectory_of, without_initial)
from engine.training.trajectory import TRAJECTORY
from engine.workspace import RunRecord, Store


def _aligned(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``got`` with its sign flipped to ``want``'s (singular vectors are defined up to sign)."""
    return got * np.sign(got @ want)


def test_principal_axes_are_numpys_top_right_singular_vectors():
    rows = torch.from_numpy(np.random.default_rng(0).normal(size=(7, 300)) * np.linspace(3, 0.1, 300))
    axes, coords, explained = principal_axes(rows)
    _, s, vh = np.linalg.svd(rows.numpy(), full_matrices=False)
    for i in range(2):
        np.testing.assert_allclose(_aligned(axes[i].numpy(), vh[i]), vh[i], atol=1e-9)
    np.testing.assert_allclose(coords.numpy(), rows.numpy() @ axes.numpy().T, atol=1e-9)  # the projections
    np.testing.assert_allclose(explained, s[:2] ** 2 / (s ** 2).sum(), rtol=1e-9)
    assert (coords[0] <= 0).all()  # the start on the left and at the bottom


def test_principal_plane_is_centred_at_the_final_weights_and_ends_there():
    gen = torch.Generator().manual_seed(1)
    final = {"a": torch.randn(4, 5, generator=gen), "b": torch.randn(5, generator=gen)}
    snaps = [{k: v + torch.randn(v.shape, generator=gen) for k, v in final.items()} for _ in range(4)]
    path = principal_plane(final, snaps, steps=[0, 10, 20, 30], final_step=40)
    flat = np.stack([np.concatenate([s[k].numpy().ravel() for k in final]) for s in snaps])
    rows = flat - np.concatenate([v.numpy().ravel() for v in final.values()])
    _, s, vh = np.linalg.svd(rows, full_matrices=False)
    d = [np.concatenate([path.directions[i][k].numpy().ravel() for k in final]) for i in range(2)]
    for i in range(2):
        np.testing.assert_allclose(_aligned(d[i], vh[i]), vh[i], atol=1e-5)
    np.testing.assert_allclose(np.array(path.coords[:-1]), rows @ np.stack(d).T, atol=1e-4)
    assert path.coords[-1] == (0.0, 0.0) and path.steps == [0, 10, 20, 30, 40]
    with pytest.raises(InputError, match="one line"):  # every snapshot on one line through the final weights
        principal_plane(final, [{k: v * f for k, v in final.items()} for f in (2.0, 3.0)])


def test_snapshots_stay_within_twenty_and_spread_over_the_run():
    snaps = Snapshots(toy_mlp_model(), total_steps=160)
    assert snaps.stride == 1
    for step in range(1000):
        snaps.offer(step)
        assert len(snaps.kept) <= MOST_SNAPSHOTS
    assert snaps.steps[0] == 0 and len(snaps.kept) >= MOST_SNAPSHOTS // 2
    gaps = np.diff(snaps.steps)
    assert (gaps == snaps.stride).all() and snaps.steps[-1] > 1000 - 2 * snaps.stride


def test_snapshots_stay_within_the_byte_cap(monkeypatch):
    model = toy_mlp_model()
    size = sum(p.numel() for p in model.parameters()) * 4
    monkeypatch.setattr(limits, "MAX_TRAJECTORY_BYTES", 5 * size + 3)
    snaps = Snapshots(model, total_steps=100)
    for step in range(100):
        snaps.offer(step)
        assert snaps.nbytes <= limits.MAX_TRAJECTORY_BYTES and len(snaps.kept) <= 5
    monkeypatch.setattr(limits, "MAX_TRAJECTORY_BYTES", 2 * size)
    none = Snapshots(model, total_steps=100)
    none.offer(0)
    assert none.kept == []
    with pytest.raises(InputError, match="PLAYGROUND_MAX_TRAJECTORY_BYTES"):
        none.trajectory(100)


def toy_mlp_model():
    return build(toy_mlp(), seed=0)


@pytest.fixture(scope="module")
def finished(circle):
    trainer = Trainer(toy_mlp(), TrainConfig(dataset="circle", batch_size=16, epochs=3, device="cpu", seed=0),
                      dataset=circle)
    while trainer.step() is not None and trainer.loop.outcome is None:
        pass
    return trainer


def test_a_finished_run_keeps_its_trajectory_with_its_weights(finished, tmp_path):
    path = finished.trajectory()
    assert finished.loop.snapshots.kept == []  # the snapshots gave way to the plane
    assert path.steps[0] == 0 and path.steps[-1] == finished.loop.step and path.steps == sorted(path.steps)
    assert 3 <= len(path.coords) <= MOST_SNAPSHOTS + 1 and path.coords[-1] == (0.0, 0.0)
    assert 0 < path.explained[1] <= path.explained[0] and sum(path.explained) <= 1 + 1e-9
    blob = finished.weights(with_initial=True)
    assert trajectory_of(finished.weights()) is None  # only kept on request, like the initial weights
    download = read_weights(without_initial(blob))
    assert set(download) == set(finished.model.state_dict())  # the download: the trained weights only
    load_weights(toy_mlp_model(), blob)  # the extra tensors do not get in the way
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        token = store.create(spec=finished.spec.to_dict())
        store.save_run(token, RunRecord(number=1, label="run 1", spec=finished.spec.to_dict(),
                                        config=finished.config.to_dict(), state="finished",
                                        records=finished.records(), weights=blob))
        for where in (token, store.import_zip(store.export_zip(token))):
            (run,) = store.open(where).runs
            saved = SavedRun(finished.spec, finished.config, "finished", run.records, store.run_blobs(where, 1)[0])
            kept = saved.trajectory()
            assert kept.coords == path.coords and kept.steps == path.steps and kept.explained == path.explained
            for mine, theirs in zip(path.directions, kept.directions):
                assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    finally:
        store.db.dispose()
    older = SavedRun(finished.spec, finished.config, "finished", finished.records(), finished.weights())
    with pytest.raises(InputError, match="no trajectory"):
        older.trajectory()
    assert any(k.startswith(TRAJECTORY) for k in read_weights(blob))


def test_a_resumed_run_starts_its_trajectory_at_the_resume(circle):
    config = TrainConfig(dataset="circle", batch_size=16, epochs=3, device="cpu", seed=0)
    first = Trainer(toy_mlp(), config, dataset=circle)
    for _ in range(12):
        first.step()
    resumed = Trainer(toy_mlp(), config, dataset=circle, resume=first.checkpoint(), history=first.records())
    while resumed.step() is not None and resumed.loop.outcome is None:
        pass
    assert resumed.trajectory().steps[0] == 12


def test_loaded_weights_drop_the_trajectory(circle):
    trainer = Trainer(toy_mlp(), TrainConfig(dataset="circle", batch_size=16, epochs=1, device="cpu", seed=0),
                      dataset=circle)
    for _ in range(4):
        trainer.step()
    trainer.load_weights(trainer.weights())
    with pytest.raises(InputError, match="loaded"):
        trainer.trajectory()


def test_a_diverged_runs_snapshots_that_are_not_finite_are_left_out():
    """A run that diverged took snapshots of NaN weights before it restored its best ones: its plane leaves them
    out, and an ending never raises (the worker thread frees the run through ``close``)."""
    model = toy_mlp_model()
    snaps = Snapshots(model, total_steps=8)
    for step in range(6):
        with torch.no_grad():
            for p in model.parameters():
                if step == 3:
                    p.fill_(float("nan"))
                elif step == 4:
                    p.copy_(torch.randn_like(p))  # the best weights restored after the NaN step
                else:
                    p.add_(0.1 * (step + 1) * torch.randn_like(p))
        snaps.offer(step)
    snaps.close(6)
    path = snaps.trajectory(6)
    assert path.steps == [0, 1, 2, 4, 5, 6] and np.isfinite(np.array(path.coords)).all()
    with pytest.raises(InputError, match="not finite"):
        principal_axes(torch.tensor([[1.0, 2.0, 3.0], [float("nan"), 0.0, 1.0], [0.0, 0.0, 0.0]]))
