"""The Train page's Diagnostics tab at 5,000 steps: the rerun's cost when a new histogram record came (records read,
series and figures built) and on a tick with nothing new (kept figures resent), in AppTest.

Trains the 10-layer sigmoid deep-mlp on digits for ~5,400 steps first (about a minute). Goal: < 150 ms a rerun.
Run: python benchmarks/train_diagnostics_drawing.py
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from streamlit.testing.v1 import AppTest  # noqa: E402

import engine  # noqa: E402
from engine import data  # noqa: E402
from engine.training import SavedRun, TrainConfig, Trainer  # noqa: E402
from ui.core.session import Run, SessionState  # noqa: E402

SCRIPT = """
import time
import streamlit as st
from ui.train import diagnostics
s = st.session_state["s"]
if st.session_state["cold"]:
    s.extras.pop(diagnostics.SCRATCH, None)
start = time.perf_counter()
diagnostics.diagnostics_ui(s, st.session_state["run"])
st.session_state["took"].append(time.perf_counter() - start)
"""


def main() -> None:
    spec = engine.network.presets.get("deep-mlp")
    config = TrainConfig(dataset="digits", epochs=34, batch_size=8, lr=0.3, seed=0, device="cpu")
    trainer = Trainer(spec, config, data.load("digits", 0))
    trainer.start()
    while trainer.state not in ("finished", "failed", "diverged", "stopped"):
        time.sleep(0.5)
    records = trainer.records()
    saved = SavedRun(spec, config, "finished", records)
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    at.session_state["s"] = SessionState(spec=spec)
    at.session_state["run"] = Run(1, "train", saved, spec, config, label="#1")
    print(f"{trainer.status.step} steps, {sum(1 for r in records if r.get('hist'))} histogram records")
    for cold in (True, False):
        at.session_state["cold"], at.session_state["took"], walls = cold, [], []
        for _ in range(7):
            start = time.perf_counter()
            at.run()
            walls.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        took = statistics.median(at.session_state["took"][1:]) * 1000
        print(f"{'new histogram record' if cold else 'nothing new'}: diagnostics_ui {took:.0f} ms, "
              f"whole AppTest rerun {statistics.median(walls[1:]) * 1000:.0f} ms (median of 6)")


if __name__ == "__main__":
    main()
