"""The Inspect page: predictions, filters, activations, attributions, codes and sequences."""
