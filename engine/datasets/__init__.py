"""The dataset makers and readers behind ``engine.data`` (pages import ``engine.data``, not these modules)."""
