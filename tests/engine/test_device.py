"""engine.device: CUDA, then MPS, then CPU; the description names what was chosen and keeps its thread count."""
import threading
from unittest import mock

import torch

from engine import device


def test_pick_prefers_cuda_then_mps_then_cpu():
    with mock.patch.object(torch.cuda, "is_available", return_value=True):
        assert device.pick().type == "cuda"
    mps = mock.Mock(is_available=mock.Mock(return_value=True))
    with mock.patch.object(torch.cuda, "is_available", return_value=False), \
            mock.patch.object(torch.backends, "mps", mps):
        assert device.pick().type == "mps"
    mps.is_available.return_value = False
    with mock.patch.object(torch.cuda, "is_available", return_value=False), \
            mock.patch.object(torch.backends, "mps", mps):
        assert device.pick().type == "cpu"


def test_describe_names_the_device():
    with mock.patch.object(torch.cuda, "get_device_name", return_value="NVIDIA H100 80GB HBM3"):
        assert device.describe(torch.device("cuda")) == "CUDA: NVIDIA H100 80GB HBM3"
    assert device.describe(torch.device("mps")) == "Apple MPS"
    threads = device.configure_threads()
    assert device.describe(torch.device("cpu")) == f"CPU, {threads} thread{'s' if threads != 1 else ''}"


def test_cpu_description_is_the_same_from_any_thread():
    """Streamlit runs each script in its own thread; the home page must not show that thread's count."""
    main = device.describe(torch.device("cpu"))
    seen = []

    def other():
        before = torch.get_num_threads()
        torch.set_num_threads(1)  # e.g. a test or a run that lowered its own thread's count
        try:
            seen.append(device.describe(torch.device("cpu")))
        finally:
            torch.set_num_threads(before)  # new threads inherit the last value set: leave it as it was

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen == [main]

