"""Widget values kept with the workspace: read them, give back the ones Streamlit forgot, check saved ones."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Between:
    """A float widget's range, for ``restorable``."""

    lo: float
    hi: float

    def __contains__(self, value) -> bool:
        return isinstance(value, float) and self.lo <= value <= self.hi


def widget_values(allowed: dict) -> dict:
    """The current values of these widgets (those drawn in this run), to be saved with the workspace."""
    return {key: st.session_state[key] for key in allowed if key in st.session_state}


def reseed(values: dict) -> None:
    """Give back to widgets the values Streamlit forgot (only keys it has no value for); call before the widgets."""
    for key, value in values.items():
        if key not in st.session_state:
            st.session_state[key] = value


def restorable(saved: dict | None, allowed: dict) -> dict:
    """The saved widget values that their widgets can take: key -> options (a tuple, a range, a ``Between``).

    Anything else (an unknown key, a value of another type or out of range) is left out, so that widget keeps
    its default instead of raising.
    """
    out = {}
    for key, value in (saved if isinstance(saved, dict) else {}).items():
        options = allowed.get(key)
        if isinstance(options, Between):
            ok = value in options
        else:
            ok = options is not None and any(type(value) is type(o) and value == o for o in options)
        if ok:
            out[key] = value
    return out
