"""The Train page: settings, live view, runs and their comparison, uploads."""
