"""Convolution and pooling, step by step: numpy traces equal to ``torch.nn.functional``, and their arithmetic.

Modules: ``trace`` (``conv1d``/``conv2d`` with flip and padding modes, ``conv_transpose1d``/``2d``,
``pool1d``/``2d``: every window as a ``Step``), ``arithmetic`` (``output_size``, ``fit``: whether the filter
fits), ``receptive`` (receptive-field growth through a stack), ``examples`` (X/O images, signals, digits,
classic kernels) and ``figures`` (the step animation, before/after grids, the receptive field).
"""
from engine.conv import arithmetic, examples, figures, receptive
from engine.conv.arithmetic import fit, output_size
from engine.conv.trace import (INPUT, INSERTED, OUTSIDE, Trace, conv1d, conv2d, conv_transpose1d, conv_transpose2d,
                               pool1d, pool2d)

__all__ = ["Trace", "INPUT", "INSERTED", "OUTSIDE", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
           "pool1d", "pool2d", "fit", "output_size", "arithmetic", "examples", "figures", "receptive"]
