"""A page's saved settings declared once, tensorflow/playground's ``State.PROPS`` style: each ``Setting`` names its
value (the name in the saved workspace), its widget key, type, default and range or choices. A page's ``Table``
reads a saved dict (checking each value), writes values into the widgets and builds the dict it saves; nothing
else names a page's widget keys. Settings left for a page by another room go through ``queue_settings``."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

QUEUED = "queued-settings"  # plain session key (kept across pages): page -> values left for its table's next draw


@dataclass(frozen=True)
class Setting:
    """One saved setting: ``name`` (its one name, saved and given to the engine), the widget ``key`` that shows it,
    its type (``kind``), ``default``, and the values its widget takes: ``lo``..``hi`` for a number, ``choices`` for a
    pick (None for a checkbox or a free value). ``part`` picks one number of a pair (Train's Adam betas)."""

    name: str
    key: str
    kind: type
    default: object
    lo: float | None = None
    hi: float | None = None
    part: int | None = None
    choices: tuple | None = None

    def shown(self, value):
        """``value`` as the widget can take it: of its type and inside its range (a number is clamped)."""
        return value if self.lo is None else self.kind(min(max(value, self.lo), self.hi))

    def read(self, value):
        """A saved ``value`` as the widget can take it, or raise ValueError (wrong type, not one of the choices).

        A number is clamped to the range; a number among numeric choices snaps to the nearest one."""
        if self.choices is not None:
            if any(type(value) is type(c) and value == c for c in self.choices):
                return value
            numbers = [c for c in self.choices if _number(c)]
            if _number(value) and numbers:
                return min(numbers, key=lambda c: abs(c - value))
            raise ValueError(f"{self.name}: {value!r} is not one of its choices")
        if self.kind is bool:
            if type(value) is not bool:
                raise ValueError(f"{self.name}: {value!r} is not true or false")
            return value
        if self.kind in (int, float):
            if not _number(value) or (self.kind is int and value != int(value)):
                raise ValueError(f"{self.name}: {value!r} is not a number of its kind")
            return self.shown(self.kind(value)) if self.lo is not None else self.kind(value)
        if not isinstance(value, self.kind):
            raise ValueError(f"{self.name}: {value!r} is not a {self.kind.__name__}")
        return value


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # NaN is no number


class Table(tuple):
    """A page's settings: a tuple of ``Setting`` with look-ups and the saved dict's reading and writing."""

    def row(self, name: str, part: int | None = None) -> Setting:
        """The row of a setting (and ``part`` of a pair)."""
        return next(r for r in self if r.name == name and r.part == part)

    def key(self, name: str, part: int | None = None) -> str:
        """The widget key of a setting."""
        return self.row(name, part).key

    def defaults(self) -> dict:
        """Every setting's default, by name."""
        return {r.name: r.default for r in self}

    def read(self, saved) -> dict:
        """The values of a saved dict that their widgets can take, by name; anything else (unknown, wrong type) is
        left out, so that setting keeps its default. A value saved under its widget key (older workspaces) counts."""
        out = {}
        saved = saved if isinstance(saved, dict) else {}
        for r in self:
            if r.name in saved or r.key in saved:
                try:
                    out[r.name] = r.read(saved[r.name] if r.name in saved else saved[r.key])
                except (ValueError, TypeError, OverflowError):
                    pass
        return out

    def widgets(self, values: dict) -> dict:
        """Widget key -> value for these values by name (names not in the table are ignored)."""
        return {r.key: values[r.name] for r in self if r.name in values}

    def current(self) -> dict:
        """The values the widgets hold now, by name (those Streamlit still has: drawn in this run or seeded)."""
        return {r.name: st.session_state[r.key] for r in self if r.key in st.session_state}

    def seed(self, saved, overrides: dict | None = None) -> None:
        """Before any widget: every setting's widget gets its value: ``overrides`` (read like a saved dict: a set-up
        or a push) first, else what it holds, else the saved value, else the default. Assigned on every run, so a
        widget not drawn in some run (another page, a closed tab) keeps its value, and no widget passes a default
        of its own (Streamlit warns when a widget has both)."""
        fallback = self.defaults() | self.read(saved)
        forced = self.read(overrides) if overrides else {}
        for r in self:
            value = forced[r.name] if r.name in forced else st.session_state.get(r.key, fallback[r.name])
            st.session_state[r.key] = value


def queue_settings(page: str, values: dict) -> None:
    """Leave settings for ``page``'s table to put into its widgets when the page next draws (once): how another
    room (the Lessons page's set-up) writes a page's settings without naming its widget keys.

    ``values``: what that page's table reads (its docstring says; the Gradients page: ``{"depth_lab": {...},
    "time_lab": {...}}`` as in ``engine.lessons.Setup``). A later call for the same page replaces the earlier one.
    """
    st.session_state.setdefault(QUEUED, {})[page] = dict(values)


def take_queued(page: str) -> dict | None:
    """The settings left for ``page`` by ``queue_settings`` (taken: the next call returns None), or None."""
    queued = st.session_state.get(QUEUED)
    return queued.pop(page, None) if isinstance(queued, dict) else None
