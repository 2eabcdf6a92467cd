"""kill -9 at random moments while a run trains with the store, each time resumed from what was stored: the
finished run's curve is continuous and complete (issue 17). Each life is its own process, forked from one that has
imported everything (``kill_child.py --serve``), so the ten kills cost their training, not ten cold starts."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine import network
from engine.training import Checkpoint
from engine.workspace import Store

CHILD = str(Path(__file__).with_name("kill_child.py"))
EPOCHS = 300  # long enough that ten short lives cannot finish it (records stay under the 5,000 kept)
KILLS = 10


class Lives:
    """The forking server of kill_child.py: ``start()`` begins a life and returns its first line."""

    def __init__(self, url: str, token: str):
        # Training at nearly the test's own priority: niced by 10 (the server's default), a busy machine starves it.
        env = {**os.environ, "PLAYGROUND_TRAIN_NICE": "1"}
        self.server = subprocess.Popen([sys.executable, CHILD, "--serve", url, token], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, env=env)
        self.pid = None
        self.said = []

    def _line(self) -> str:
        line = self.server.stdout.readline()
        assert line, f"the forking server ended ({self.server.poll()})"
        return line

    def start(self, epochs: int) -> str:
        self.server.stdin.write(f"{epochs}\n")
        self.server.stdin.flush()
        word, pid = self._line().split()
        assert word == "pid", word
        self.pid = int(pid)
        return self._line()

    def kill(self) -> bool:
        """SIGKILL the life; False if it had already ended by itself."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # ended and reaped by the server
            pass
        status = self.wait()
        assert status in (["exit", str(signal.SIGKILL)], ["exit", "0"]), (status, self.said)
        return status[1] != "0"  # waitpid's status: the signal's number when it killed the life

    def wait(self) -> list[str]:
        """The life's remaining lines until the server reports it ended; returns that report's words."""
        while not (line := self._line()).startswith("exit"):
            self.said.append(line)
        return line.split()

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(30)


def test_a_run_killed_again_and_again_finishes_with_its_whole_curve(tmp_path):
    url = f"sqlite:///{tmp_path / 'playground.db'}"
    store = Store(url)
    token = store.create(spec=network.presets.get("toy-mlp").to_dict())
    rng = random.Random(17)
    kills, progress, lives = 0, [], []
    server = Lives(url, token)
    try:
        for _ in range(KILLS * 4):
            line = server.start(EPOCHS)
            if line.startswith("done") or kills >= KILLS:
                assert server.wait() == ["exit", "0"], server.said
                if line.startswith("done") or any(said.startswith("done") for said in server.said):
                    break
                continue
            assert line.startswith("training"), line
            lives.append(line.split()[1])
            time.sleep(rng.uniform(0.1, 0.5))
            if not server.kill():  # it had ended on its own: the next life says "done"
                continue
            kills += 1
            blobs = store.run_blobs(token, 1) if store.open(token).runs else (None, None)
            progress.append(Checkpoint.from_blobs(*blobs).step if blobs[1] else None)
    finally:
        server.close()
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
