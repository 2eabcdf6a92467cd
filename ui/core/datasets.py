"""The datasets the pages train and look at, loaded once per process and shared (read-only) by every session."""
from __future__ import annotations

import json

import streamlit as st

from engine import data


@st.cache_resource(max_entries=16, show_spinner="Loading the dataset…")
def load_dataset(name: str, seed: int, options_json: str):
    """Datasets are read-only and shared by every session (never a session's model)."""
    return data.load(name, seed=seed, **json.loads(options_json))
