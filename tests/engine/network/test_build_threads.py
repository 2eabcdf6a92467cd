"""Summaries in one thread never disturb autograd in another (each browser session runs in its own thread)."""
import threading

import torch

import engine
from engine.inspect.attribution import attribute
from engine.network import presets


def test_saliency_while_another_thread_summarises():
    torch.manual_seed(0)
    model = engine.build(presets.get("tiny-vgg"), seed=0).eval()
    x = torch.rand(1, 8, 8)
    expected = attribute(model, x, "saliency", target=0)
    stop = threading.Event()
    specs = [presets.get(name) for name in ("lenet5", "resnet-mini", "char-lstm", "tiny-vgg")]

    def summarise_forever():
        i = 0
        while not stop.is_set():
            # A fresh spec each time: memoised summaries would skip the counting that used to install hooks.
            spec = specs[i % len(specs)]
            engine.summarize(engine.ModelSpec.from_dict({**spec.to_dict(), "layers": spec.layers + [
                {"type": "Dropout", "p": round(0.01 * (i % 90 + 1), 2)}] * (1 + i // 90 % 3)}))
            i += 1

    worker = threading.Thread(target=summarise_forever, daemon=True)
    worker.start()
    try:
        for _ in range(100):  # 66-83 of 200 failed with FlopCounterMode's process-wide module hooks
            got = attribute(model, x, "saliency", target=0)
            assert torch.allclose(torch.as_tensor(got), torch.as_tensor(expected))
    finally:
        stop.set()
        worker.join()
