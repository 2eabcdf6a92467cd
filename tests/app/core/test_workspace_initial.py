"""A finished run is stored with the weights it started from (the loss line's θ₀), they come back with the stored
run after a reload, and a weights download (``without_initial``) carries the trained weights only."""
import torch

from engine.training import TERMINAL, load_weights, read_weights, without_initial
from engine.training.weights import INITIAL
from tests.app.core.test_workspace_checkpoints import _run, _wait, flusher, store  # noqa: F401 - fixtures
from ui.core import saved_runs


def _finished(store, flusher):  # noqa: F811 - the fixtures
    token = store.create(spec=_run(0).trainer.spec.to_dict())
    f = flusher()
    run = _run(epochs=2)
    saved_runs.watch(f, token, run)
    run.trainer.start()
    assert _wait(lambda: run.trainer.state in TERMINAL, 60)
    assert f.flush(30)
    return token, run


def test_a_finished_run_is_stored_with_its_initial_weights(store, flusher):  # noqa: F811
    token, run = _finished(store, flusher)
    blob = store.run_blobs(token, 1)[0]
    first = run.trainer.initial_state()
    restored = saved_runs.stored_run(store.open(token).runs[0], token, store, _NoFlusher())
    kept = restored.trainer.initial_state()
    assert kept is not None and set(kept) == set(first)
    assert all(torch.equal(kept[k], first[k]) for k in first)  # bit for bit the weights before step 0
    final = run.trainer.model.state_dict()
    assert not all(torch.equal(kept[k], final[k].cpu()) for k in final if k in kept)  # it trained away from them
    # The stored file still loads as the trained network; the download leaves the initial tensors out.
    model = load_weights(restored.trainer.model, blob)
    assert all(torch.equal(model.state_dict()[k], final[k].cpu()) for k in final)
    names = read_weights(without_initial(blob))
    assert set(names) == set(final) and not any(k.startswith(INITIAL) for k in names)
    assert without_initial(run.trainer.weights()) == run.trainer.weights()  # nothing to strip: unchanged


class _NoFlusher:
    """Nothing is trained live in this process: ``stored_run`` builds a SavedRun from the store."""

    def watching(self, token, number):
        return False
