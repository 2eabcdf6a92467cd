"""The Gradients page: norms through depth and through time, and the recurrent cells compared."""
