"""The Class page's widgets: make a class, watch it live (networks, curves, a ranking), send it a network."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import engine
from engine.training import figures as train_figures
from ui import workspace
from ui.session import SessionState, state

PARAM = "teacher"
EVERY = 2.0  # seconds between the class view's polls


def create_ui() -> None:
    """A new class: a name in, a join code and the teacher's link out."""
    st.markdown("Make a class: your students join it with a short code and a display name, and this page then "
                "shows who has joined, their networks and their runs, live. There are no accounts: **the "
                "teacher's link this page opens is the key to the class**; keep it to yourself.")
    name = st.text_input("Class name", key="class-name", max_chars=200, placeholder="e.g. Deep learning, week 3")
    if st.button("Create the class", key="class-create", type="primary", disabled=not name.strip()):
        try:
            token, _ = workspace.create_class(name)
        except engine.InputError as err:
            st.error(f"Cannot create the class: {err}")
            return
        st.query_params[PARAM] = token
        st.rerun()


def class_ui(s: SessionState, token: str) -> None:
    """The teacher's live view of one class, and the push of the teacher's own network and Train settings."""
    view = s.extras.setdefault("class", {"token": token, "since": None, "members": {}, "name": "", "code": ""})
    if view["token"] != token:
        view.update(token=token, since=None, members={})

    @st.fragment(run_every=EVERY)
    def live():
        state()
        try:
            _poll(view)
        except engine.InputError as err:
            st.error(f"This class cannot be shown: {err}")
            return
        _draw(view)

    live()
    push_ui(s, token)


def _poll(view: dict) -> None:
    """Only what changed since the last poll comes back; members who left or expired are dropped."""
    update = workspace.class_view(view["token"], view["since"])
    view.update(name=update.name, code=update.code, since=update.as_of, pushed=update.pushed_version)
    for member in update.members:
        view["members"][member.key] = member
    view["members"] = {k: m for k, m in view["members"].items() if k in set(update.member_keys)}


def _runs(member) -> list:
    """A member's Train runs (their Gradients experiments are kept in the workspace but not compared here)."""
    return [r for r in member.runs if r.group == "train"]


def _best(member) -> float | None:
    accs = [r.results.get("accuracy") for r in _runs(member) if r.results and r.results.get("accuracy") is not None]
    return max(accs) if accs else None


def _draw(view: dict) -> None:
    st.subheader(view["name"])
    st.markdown(f"Join code: **`{view['code']}`** · students open the playground, then *Join the class* in the "
                "sidebar's workspace panel.")
    members = sorted(view["members"].values(), key=lambda m: (_best(m) is None, -(_best(m) or 0), m.display_name))
    if not members:
        st.info("Nobody has joined yet.")
        return
    rows = [{"rank": i + 1, "student": m.display_name, "network": m.spec.get("name") or "custom",
             "parameters": f"{m.parameters:,}" if m.parameters is not None else "invalid",
             "runs": len(_runs(m)),
             "training now": sum(r.state in ("queued", "running", "paused") for r in _runs(m)),
             "best test accuracy": f"{100 * _best(m):.1f}%" if _best(m) is not None else ""}
            for i, m in enumerate(members)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="class-table")
    students = {m.display_name: [(f"#{r.number} {r.label}", r.epochs) for r in _runs(m) if r.epochs]
                for m in members}
    a, b = st.columns(2)
    a.plotly_chart(train_figures.class_curves_figure(students, "loss"), key="class-loss")
    b.plotly_chart(train_figures.class_curves_figure(students, "acc"), key="class-acc")


def push_ui(s: SessionState, token: str) -> None:
    """Send the teacher's current network and Train settings to every student's workspace."""
    st.markdown(f"**Send to the class**: your current network (**{s.spec.name or 'custom'}**, from the Build "
                "page) and your Train settings open within seconds on every student's open page (a student whose run is "
                "still training is asked first), or when they next open the playground.")
    if st.button("Send my network and settings", key="class-push"):
        try:
            version = workspace.push(token, s)
        except engine.InputError as err:
            st.error(f"Cannot send: {err}")
            return
        st.success(f"Sent (version {version}).")
