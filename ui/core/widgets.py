"""Widget values kept with the workspace: give back the ones Streamlit forgot (a page's saved settings:
``ui.core.settings``)."""
from __future__ import annotations

import streamlit as st


def reseed(values: dict) -> None:
    """Give back to widgets the values Streamlit forgot (only keys it has no value for); call before the widgets."""
    for key, value in values.items():
        if key not in st.session_state:
            st.session_state[key] = value
