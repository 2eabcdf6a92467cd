"""The bad-input catalogue: hostile or broken inputs, each answered with a clear message, the app still working."""
