"""kill -9 at random moments while a run trains with the store, each time resumed from what was stored: the
finished run's curve is continuous and complete (issue 17). Marked slow: ten process starts and the last life take about two minutes."""
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine import network
from engine.training import Checkpoint
from engine.workspace import Store

CHILD = str(Path(__file__).with_name("kill_child.py"))
EPOCHS = 300  # long enough that ten short lives cannot finish it (records stay under the 5,000 kept)
KILLS = 10


@pytest.mark.slow
def test_a_run_killed_again_and_again_finishes_with_its_whole_curve(tmp_path):
    url = f"sqlite:///{tmp_path / 'playground.db'}"
    store = Store(url)
    token = store.create(spec=network.presets.get("toy-mlp").to_dict())
    rng = random.Random(17)
    kills, progress, lives = 0, [], []
    for _ in range(KILLS * 4):
        child = subprocess.Popen([sys.executable, CHILD, url, token, str(EPOCHS)], stdout=subprocess.PIPE, text=True)
        line = child.stdout.readline()
        if line.startswith("done") or kills >= KILLS:
            child.wait(120)
            assert child.returncode == 0
            if line.startswith("done") or "done" in child.stdout.read():
                break
            continue
        assert line.startswith("training"), line
        lives.append(line.split()[1])
        try:
            child.wait(rng.uniform(0.1, 0.5))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            kills += 1
            blobs = store.run_blobs(token, 1) if store.open(token).runs else (None, None)
            progress.append(Checkpoint.from_blobs(*blobs).step if blobs[1] else None)
    assert kills >= KILLS, f"only {kills} kills before the run finished"
    (run,) = store.open(token).runs
    assert run.state == "finished" and run.results is not None and run.has_weights
    steps = [r["step"] for r in run.records if r["kind"] == "step"]
    epochs = [r["epoch"] for r in run.records if r["kind"] == "epoch"]
    assert steps == sorted(set(steps)), "the curve repeats or goes back"
    assert epochs == list(range(1, EPOCHS + 1)) or epochs == list(range(EPOCHS)), epochs[:5]
    per_epoch = max(steps) // EPOCHS
    assert max(steps) == per_epoch * EPOCHS and steps[0] == 1
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert max(gaps) <= 10, "a stretch of the curve is missing"  # a record every metrics_every=10 steps at most
    first = next((i for i, p in enumerate(progress) if p is not None), None)
    assert first is not None and first < KILLS - 3, f"checkpoints stored at the kills: {progress}"
    kept = progress[first:]
    assert None not in kept and kept == sorted(kept), f"a stored checkpoint was lost or went back: {progress}"
    assert set(lives[first + 1:]) == {"resumed"}, lives  # every life after the first checkpoint resumed
