"""Summarising VGG16: time and peak memory, against a bare PyTorch meta-device forward in the same process.

Goal: under 1 s and under 200 MB; small nets under 50 ms.
"""
import os
import resource
import statistics
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from engine import summarize  # noqa: E402
from engine.network import build, presets


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def bare_vgg16_meta():
    """What summarize does at its core, hand-written: build VGG16 on meta and push one sample through."""
    with torch.device("meta"):
        layers = []
        c = 3
        for n, out in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]:
            for _ in range(n):
                layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU()]
                c = out
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Flatten(), nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
                   nn.Dropout(), nn.Linear(4096, 1000)]
        net = nn.Sequential(*layers)
    return net(torch.empty(1, 3, 224, 224, device="meta")).shape


def main():
    summarize(presets.get("lenet5"))  # warm imports
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    best, median = best_of(lambda: summarize(presets.get("vgg16")))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base, _ = best_of(bare_vgg16_meta)
    print(f"vgg16 summarize: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms "
          f"(bare torch meta forward {base * 1000:.0f} ms, ratio {best / base:.1f}x)")
    print(f"vgg16 summarize: python peak {peak / 2**20:.1f} MiB, process max RSS grew {rss_after - rss_before:.0f} MiB "
          f"(to {rss_after:.0f} MiB); goal < 1 s and < 200 MB")
    for name in presets.names():
        if name == "vgg16":
            continue
        spec = presets.get(name)
        best, _ = best_of(lambda: summarize(spec))
        real, _ = best_of(lambda: build(spec), repeat=3)
        print(f"{name:12s} summarize {best * 1000:6.1f} ms   (build real weights {real * 1000:6.1f} ms); goal < 50 ms")


if __name__ == "__main__":
    main()
