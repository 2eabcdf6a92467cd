"""The Class page's widgets: make a class, watch it live (networks, curves, a ranking), send it a network, set it
lessons and challenges (``lessons``); and the class board, the same view read-only for a projector."""
from __future__ import annotations

import html
import time
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

import engine
from engine.training import figures as train_figures
from engine.workspace import drawn_runs
from ui.core import present, text, workspace
from ui.core.page import state
from ui.core.session import SessionState
from ui.classroom import lessons, naming

PARAM = "teacher"
BOARD = "board"
TAB = "class_tab"  # the teacher's tab (Students, Lessons), in the address too
EVERY = 2.0  # seconds between the class view's polls
SNAPSHOT_REUSE = 300.0  # seconds a student's snapshot is shown again on a new click while their workspace is unchanged


def create_ui() -> None:
    """A new class: a name in, a join code and the teacher's link out."""
    st.markdown("Make a class: your students join it with a short code and a display name, and this page then "
                "shows who has joined, their networks and their runs, live. There are no accounts: **the "
                "teacher's link this page then gives is the key to the class**; keep it to yourself, and project "
                "the *class board* instead.")
    name = st.text_input("Class name", key="class-name", max_chars=200, placeholder="e.g. Deep learning, week 3")
    if st.button("Create the class", key="class-create", type="primary", disabled=not name.strip()):
        try:
            token, _ = workspace.create_class(name)
        except engine.InputError as err:
            st.error(f"Cannot create the class: {text.message(err)}")
            return
        st.query_params[PARAM] = token
        st.rerun()


def class_ui(s: SessionState, token: str) -> None:
    """The teacher's live view of one class, its board link, and the push of the teacher's network and settings."""
    view = _view_state(token)
    try:
        board = view.get("board") or workspace.class_board(token)
    except engine.InputError as err:
        st.error(f"This class cannot be shown: {text.message(err)}")
        return
    view["board"] = board
    url = _address()
    board_url = f"{url}/Class?{BOARD}={board}" if url else f"/Class?{BOARD}={board}"
    a, b = st.columns([3, 2])
    with b.container(key="class-board"):
        st.markdown("**Class board**, to project: the join code, the ranking and the curves, read-only. Project "
                    "the board, not this page.")
        st.link_button("Open the class board", board_url, icon=":material/open_in_new:", key="class-board-open")
        st.code(board_url, language=None)
    # Its own link: this page's address also names the teacher's workspace, which a co-teacher must not get.
    with b.expander("Teacher's link: the key to this class", key="class-teacher-link"):
        st.code(f"{url or ''}/Class?{PARAM}={token}", language=None)
        st.caption("Opens this page with the class: keep it to yourself, or give it to a co-teacher. It holds "
                   "the class only; this page's address also holds your workspace, so share this link, not the "
                   "address.")

    @st.fragment(run_every=EVERY)
    def live():
        state()
        if not _poll(view, workspace.class_view):
            return
        with a:
            _header(view)
        _draw(view)
        _snapshot_ui(view, token)

    # A stateful tab, kept in the address: a button's rerun or a poll never shows the first tab again; only the
    # open tab polls the database.
    students, lessons_tab = st.tabs(["Students", "Lessons"], key=TAB, on_change="rerun", bind="query-params")
    with students:
        if students.open:
            live()
            push_ui(s, token)
    with lessons_tab:
        if lessons_tab.open:
            if view.get("name") is not None or _poll(view, workspace.class_view):  # the join code stays in sight
                with a:
                    _header(view)
            lessons.lessons_ui(token, EVERY)


def board_ui(board: str) -> None:
    """The class board: name, join code, ranking and curves; nothing that changes the class or leads to it."""
    view = _view_state(board)

    @st.fragment(run_every=EVERY)
    def live():
        if not _poll(view, workspace.board_view):
            return
        _header(view)
        _draw(view)
        lessons.board_lessons_ui(board)

    live()


def _view_state(token: str) -> dict:
    view = st.session_state.setdefault("class-view", {"token": token})
    if view["token"] != token:
        view.clear()
        view["token"] = token
    view.setdefault("members", {})
    view.setdefault("since", None)
    return view


def _address() -> str | None:
    """The playground's address as the teacher's browser reached it (scheme, host and port)."""
    try:
        url = st.context.url
    except (AttributeError, RuntimeError):
        url = None
    if url:
        parts = urlsplit(str(url))
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    try:
        host = st.context.headers.get("Host")
    except (AttributeError, RuntimeError):
        host = None
    return f"http://{host}" if host else None


def _poll(view: dict, fetch) -> bool:
    """Only what changed since the last poll comes back; members who left or expired are dropped."""
    try:
        update = fetch(view["token"], view["since"])
    except engine.InputError as err:
        st.error(f"This class cannot be shown: {text.message(err)}")
        return False
    view.update(name=update.name, code=update.code, since=update.as_of, pushed=update.pushed_version)
    for member in update.members:
        view["members"][member.key] = member
    view["members"] = {k: m for k, m in view["members"].items() if k in set(update.member_keys)}
    view["keys"] = list(update.member_keys)  # in joining order: who is "Ada" and who "Ada (2)"
    return True


def _names(view: dict) -> dict[str, str]:
    """Each member's name as shown, by key: a second "Ada" (in joining order) is "Ada (2)", so nobody merges."""
    members = view["members"]
    return naming.shown((k, members[k].display_name) for k in view.get("keys", list(members)) if k in members)


def _header(view: dict) -> None:
    """The class's name, and the join code in type big enough for the back row (and a 200% projector zoom)."""
    st.subheader(text.plain(view["name"]))
    address = _address()
    where = f'Open <b style="white-space:nowrap">{html.escape(address)}</b> and enter code' if address else \
        "Open this playground, then <i>Join the class</i> in the sidebar, and enter code"
    # vw-bound sizes: at a projector's 200% zoom the window is half as wide and the code must still fit.
    st.markdown(f'<div class="class-join" style="font-size:clamp(1.2rem,3.5vw,1.6rem);line-height:1.3">{where}'
                f'<div class="class-join-code" style="font-size:clamp(2.5rem,11vw,5rem);font-weight:700;'
                f'letter-spacing:0.12em;font-family:monospace;white-space:nowrap">{html.escape(view["code"])}'
                '</div></div>', unsafe_allow_html=True)


def _runs(member) -> list:
    """A member's Train runs (their Gradients experiments are kept in the workspace but not compared here)."""
    return [r for r in member.runs if r.group == "train"]


def _best(member) -> tuple[float | None, float | None]:
    """The member's best test accuracy and lowest test loss over the finished runs this server trained (None: no
    such result); imported runs' results are whatever the uploaded file said, so they do not rank."""
    results = [r.results for r in _runs(member) if r.results and not r.imported]
    accs = [r["accuracy"] for r in results if r.get("accuracy") is not None]
    losses = [r["loss"] for r in results if r.get("loss") is not None]
    return (max(accs) if accs else None), (min(losses) if losses else None)


def _network(member) -> str:
    if member.preset is None:
        return "custom"
    return f"{member.preset} (edited)" if member.edited else member.preset


def _row(member, name: str) -> dict:
    live = sum(r.state in ("queued", "running", "paused") for r in _runs(member))
    return {"student": name, "network": _network(member),
            "parameters": f"{member.parameters:,}" if member.parameters is not None else "invalid",
            "runs": len(_runs(member)), "imported runs": sum(r.imported for r in _runs(member)), "training now": live}


def _status(member) -> str:
    row = _row(member, member.display_name)
    if row["training now"]:
        return "training"
    return f"{row['runs']} run{'s' * (row['runs'] != 1)}" if row["runs"] else "joined"


def _draw(view: dict) -> None:
    members, names = list(view["members"].values()), _names(view)
    if not members:
        st.info("Nobody has joined yet.")
        return
    if not any(_best(m) != (None, None) for m in members):
        st.info("No ranking yet: it appears once a student's run has test results. Who has joined so far:")
        rows = [{**_row(m, names[m.key]), "status": _status(m)}
                for m in sorted(members, key=lambda m: names[m.key].lower())]
        st.dataframe(pd.DataFrame(rows)[["student", "network", "parameters", "status"]], hide_index=True,
                     key="class-members")
    else:
        def order(m):
            acc, loss = _best(m)
            return acc is None, -(acc or 0.0), loss is None, loss or 0.0, names[m.key].lower()

        members.sort(key=order)
        rows = []
        for i, m in enumerate(members):
            acc, loss = _best(m)
            # Text, not Int64: the table shows an empty number as "None"; the rows come already in rank order.
            rows.append({"rank": str(i + 1) if (acc, loss) != (None, None) else "", **_row(m, names[m.key]),
                         "best test accuracy": f"{100 * acc:.1f}%" if acc is not None else "",
                         "best test loss": f"{loss:.4f}" if loss is not None else ""})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="class-table")
    # Keyed by member (two "Ada"s are two entries); the figure shows names and labels as text.
    students = {m.key: (names[m.key], [(f"#{r.number} {r.label}{' (imported)' * r.imported}", r.epochs)
                                       for r in drawn_runs(_runs(m)) if r.epochs]) for m in members}
    if not any(runs for _, runs in students.values()):
        return  # no curves yet: no empty charts
    a, b = st.columns(2)
    a.plotly_chart(present.figure(train_figures.class_curves_figure(students, "loss")), key="class-loss")
    b.plotly_chart(present.figure(train_figures.class_curves_figure(students, "acc")), key="class-acc")


def _snapshot_ui(view: dict, token: str) -> None:
    """Look at one student's workspace: a read-only snapshot of it, opened in a new tab."""
    shown = _names(view)
    names = {k: shown[k] for k in sorted(shown, key=lambda k: shown[k].lower())}
    if not names:
        return
    a, b, c = st.columns([2, 1, 2], vertical_alignment="bottom")
    key = a.selectbox("Look at a student's workspace", list(names), format_func=names.get, index=None,
                      placeholder="Choose a student", key="class-member")
    if b.button("Read-only snapshot", key="class-snapshot", disabled=key is None):
        try:
            view["snapshot"] = names[key], workspace.link(_member_snapshot(view, token, key), "Train")
        except engine.InputError as err:
            st.error(f"Cannot open this student's workspace: {text.message(err)}")
            view.pop("snapshot", None)
    if snapshot := view.get("snapshot"):
        c.link_button(f"Open {text.plain(snapshot[0])}'s snapshot", snapshot[1], icon=":material/open_in_new:",
                      key="class-snapshot-open")
    _remove_ui(view, token, key, names)


def _remove_ui(view: dict, token: str, key: str | None, names: dict[str, str]) -> None:
    """Take the chosen student out of the class, once confirmed; their workspace stays theirs."""
    if done := view.pop("removed", None):
        (st.success if done[0] else st.error)(done[1])
    if st.button("Remove from the class", key="class-remove", disabled=key is None):
        view["removing"] = key
    if key is not None and view.get("removing") == key:
        st.warning(f"Remove **{text.plain(names[key])}** from the class? They keep their workspace, network and runs, "
                   "and could join again with the code.")
        st.button("Remove", key="class-remove-confirm", type="primary", on_click=_remove,
                  args=(view, token, key, names[key]))


def _remove(view: dict, token: str, key: str, name: str) -> None:
    """The confirmed removal (a callback: the ranking drawn next already leaves them out)."""
    view.pop("removing", None)
    try:
        workspace.remove_member(token, key)
    except engine.InputError as err:
        # shown by the run this callback precedes
        view["removed"] = False, f"Cannot remove {text.plain(name)}: {text.message(err)}"
        return
    view["members"].pop(key, None)
    view["removed"] = True, f"{text.plain(name)} was removed from the class; their workspace stays theirs."


def _member_snapshot(view: dict, token: str, key: str) -> str:
    """The member's snapshot: the one made a moment ago when their workspace has not changed since (each copies
    the weights and counts towards the teacher's hourly cap), else a new one."""
    changed = view["members"][key].updated_at
    made = view.setdefault("snapshots", {}).get(key)
    if made is not None and made[1] == changed and time.monotonic() - made[2] < SNAPSHOT_REUSE:
        return made[0]
    snapshot = workspace.member_snapshot(token, key)
    view["snapshots"][key] = snapshot, changed, time.monotonic()
    return snapshot


def push_ui(s: SessionState, token: str) -> None:
    """Send the teacher's current network and Train settings to every student's workspace."""
    st.markdown(f"**Send to the class**: your current network (**{text.plain(s.spec.name or 'custom')}**, from "
                "the Build page) and your Train settings open within seconds on every student's open page (a student "
                "whose run is still training is asked first), or when they next open the playground.")
    if st.button("Send my network and settings", key="class-push"):
        try:
            version = workspace.push(token, s)
        except engine.InputError as err:
            st.error(f"Cannot send: {text.message(err)}")
            return
        st.success(f"Sent (version {version}).")
