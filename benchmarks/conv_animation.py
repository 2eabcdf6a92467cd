"""Time a traced convolution plus its animated figure, against a bare F.conv2d call in the same process.

Run: ``.venv/bin/python benchmarks/conv_animation.py``. Goals (issue 4): a 7×7 input with a 3×3 kernel
under 100 ms; a 12×12 input with a 5×5 kernel under 500 ms. Also reports serialising the figure to
JSON, which st.plotly_chart does on every rerun.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import plotly.io as pio
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._timing import median_ms  # noqa: E402
from engine import conv  # noqa: E402
from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures

CASES = [(7, 3, 1, 100.0), (12, 5, 2, 500.0)]  # input side N, kernel K, padding P, goal in ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'case':<22}{'trace':>9}{'+figure':>10}{'to JSON':>10}{'F.conv2d':>11}{'ratio':>9}  goal")
    failed = False
    for n, k, p, goal in CASES:
        x = conv_examples.random_grid((n, n), seed=0)
        w = conv_examples.kernel("random", 2, k)
        xt, wt = torch.tensor(x)[None, None], torch.tensor(w)[None, None]
        trace_ms = median_ms(lambda: conv.conv2d(x, w, padding=p), args.repeats)
        total_ms = median_ms(lambda: conv_figures.animation(conv.conv2d(x, w, padding=p)), args.repeats)
        figure = conv_figures.animation(conv.conv2d(x, w, padding=p))
        json_ms = median_ms(lambda: pio.to_json(figure.to_dict(), validate=False), args.repeats)
        bare_ms = median_ms(lambda: F.conv2d(xt, wt, padding=p), args.repeats * 10)
        ok = total_ms < goal
        failed |= not ok
        name = f"{n}×{n} input, {k}×{k} kernel"
        print(f"{name:<22}{trace_ms:>7.1f}ms{total_ms:>8.1f}ms{json_ms:>8.1f}ms{bare_ms * 1000:>8.1f} µs"
              f"{total_ms / bare_ms:>8.0f}×  < {goal:.0f} ms {'ok' if ok else 'MISSED'}")
        kib = len(pio.to_json(figure.to_dict(), validate=False)) / 1024
        print(f"{'':<22}{len(figure.raw_frames)} frames, {kib:.0f} KiB of JSON")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
