"""Convolution and pooling, step by step: numpy traces equal to ``torch.nn.functional``, and their arithmetic.

Modules: ``trace`` (``conv1d``/``conv2d`` with flip and padding modes, ``conv_transpose1d``/``2d``,
``pool1d``/``2d``: every window as a ``Step``), ``arithmetic`` (``output_size``, ``fit``: whether the filter
fits), ``receptive`` (receptive-field growth through a stack), ``examples`` (X/O images, signals, digits,
classic kernels) and ``figures`` (the step animation, before/after grids, the receptive field).
"""
from engine.conv import arithmetic, examples, figures, receptive, trace
from engine.conv.arithmetic import Fit, fit, output_size, resolve_padding
from engine.conv.trace import (INPUT, INSERTED, MAX_WINDOW_CELLS, OUTSIDE, PAD, Step, Trace, conv1d, conv2d,
                               conv_transpose1d, conv_transpose2d, pool1d, pool2d)

__all__ = ["Step", "Trace", "PAD", "INPUT", "INSERTED", "OUTSIDE", "MAX_WINDOW_CELLS", "conv1d", "conv2d",
           "conv_transpose1d", "conv_transpose2d", "pool1d", "pool2d", "Fit", "fit", "output_size", "resolve_padding",
           "arithmetic", "examples", "figures", "receptive", "trace"]
