"""Looking inside a trained model: predictions, activations, filters, recurrent states and Captum attributions.

Modules: ``probe`` (predictions, activations, filters, hidden states and LSTM gates; named so as not to hide
the standard library's ``inspect``), ``attribution`` (Captum saliency, Grad-CAM, IG...; loaded on first use,
since importing Captum is slow), ``images`` (safe decoding of uploads, the drawing grid), ``autoencoder``
(reconstructions, bottleneck codes and their PCA, interpolation between codes) and ``figures``.
"""
import importlib

from engine.inspect import autoencoder, figures, images
from engine.inspect.autoencoder import codes, interpolate, reconstructions
from engine.inspect.images import canvas_shape, drawing_to_input, fit_to_input, input_to_drawing, paint
from engine.inspect.probe import (activations, conv_layers, filters, find_layer, hidden_states, layer_modules,
                                  linear_layers, linear_unit_images, lstm_gates, outputs, predict, predicted_classes,
                                  private_copy, probabilities, recurrent_info, recurrent_layers)

__all__ = ["activations", "conv_layers", "filters", "find_layer", "hidden_states", "layer_modules", "linear_layers",
           "linear_unit_images", "lstm_gates", "outputs", "predict", "predicted_classes", "private_copy",
           "probabilities", "recurrent_info", "recurrent_layers", "canvas_shape", "drawing_to_input", "fit_to_input",
           "input_to_drawing", "paint", "codes", "interpolate", "reconstructions", "attribution", "autoencoder",
           "figures", "images"]


def __getattr__(name: str):
    """``attribution`` is imported on first use: it loads Captum, which the other pages never need."""
    if name == "attribution":
        return importlib.import_module("engine.inspect.attribution")
    raise AttributeError(f"module 'engine.inspect' has no attribute {name!r}")
