"""Time ``gradients.timestep_grad_norms`` (T = 100, hidden 64, batch 32) against one plain forward+backward.

Run: ``.venv/bin/python benchmarks/timestep_grads.py``. The goal is under 200 ms per call on CPU;
the ratio says what unrolling the fused torch layer step by step costs. The "float64 copy" column is
what the Gradients page does (``gradient_lab.time_norms``: copy the model to float64, then measure,
so no norm underflows to 0), timed with the copy included.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402
from benchmarks._timing import median_ms  # noqa: E402
from engine import gradients  # noqa: E402
from engine.gradients import lab as gradient_lab

STEPS, HIDDEN, BATCH, FEATURES, CLASSES = 100, 64, 32, 32, 32
GOAL_MS = 200.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    # (32, 64) matrices are too small for intra-op threads; on a shared 2-core machine a second
    # thread only measures contention (10× slower under load), so one is the default.
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(BATCH, STEPS, FEATURES)
    y = torch.randint(0, CLASSES, (BATCH, STEPS))
    print(f"T={STEPS}, hidden={HIDDEN}, batch={BATCH}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'cell':6s} {'timestep_grad_norms':>20s} {'float64 copy':>13s} {'forward+backward':>17s} "
          f"{'ratio':>6s} {'ratio64':>7s} {'goal':>5s}")
    for cell in ("RNN", "LSTM", "GRU"):
        spec = engine.ModelSpec.from_dict({"input": [STEPS, FEATURES], "layers": [
            {"type": cell, "hidden_size": HIDDEN}, {"type": "Linear", "out_features": CLASSES}]})
        model = engine.build(spec, seed=0)

        def plain():
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x).reshape(-1, CLASSES), y.reshape(-1)).backward()

        ours = median_ms(lambda: gradients.timestep_grad_norms(model, x, y), args.repeats)
        page = median_ms(lambda: gradient_lab.time_norms(model, x, y), args.repeats)
        base = median_ms(plain, args.repeats)
        print(f"{cell:6s} {ours:17.1f} ms {page:10.1f} ms {base:14.1f} ms {ours / base:6.1f} {page / base:7.1f} "
              f"{'ok' if max(ours, page) < GOAL_MS else 'SLOW':>5s}")


if __name__ == "__main__":
    main()
