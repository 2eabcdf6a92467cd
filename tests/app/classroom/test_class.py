"""The Class page in AppTest: the teacher's join code and board link, a ranking only once someone has a result
(before that: who joined and who is training), edited networks with their parameter counts, a student's
read-only snapshot, and the board: read-only, without the teacher's key."""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.workspace import RunRecord
from ui.core import database, workspace

ROOT = Path(__file__).resolve().parents[3]
CLASS = str(ROOT / "views" / "6_Class.py")
NAME = "Week 3 **bold** [link](http://example.com)"  # markdown in a name shows as typed


def _store():
    return store_mod.get_store()


def _page(**params) -> AppTest:
    at = AppTest.from_file(CLASS, default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def _protos(node) -> list[str]:
    """Every element's protobuf as text, the sidebar's included."""
    out = [str(node.proto)] if getattr(node, "proto", None) is not None else []
    children = getattr(node, "children", {})
    for child in (children.values() if isinstance(children, dict) else children):
        out += _protos(child)
    return out


def _texts(at) -> str:
    return "\n".join(_protos(at._tree))


def _table(at, column: str):
    """The page's table with this column ("status": who joined; "rank": the ranking), or None."""
    found = [df.value for df in at.dataframe if column in df.value.columns]
    assert len(found) <= 1
    return found[0] if found else None


def _member(code: str, name: str, spec: dict, *runs: RunRecord) -> str:
    token = _store().create(spec=spec)
    _store().join_class(code, name, token)
    for run in runs:
        _store().save_run(token, run)
    return token


def _finished(number: int, accuracy: float) -> RunRecord:
    epochs = [{"kind": "epoch", "epoch": e, "train_loss": 1.0 / e, "train_acc": accuracy, "val_loss": 1.1 / e,
               "val_acc": accuracy} for e in (1, 2)]
    return RunRecord(number, spec=engine.network.presets.get("toy-mlp").to_dict(), state="finished",
                     records=epochs, results={"loss": 0.2, "accuracy": accuracy})


def _edited() -> dict:
    spec = engine.network.presets.get("toy-mlp").to_dict()
    spec["layers"][0]["out_features"] = 16
    return spec


@pytest.fixture
def klass():
    """A class of three: Ann (the preset, nothing run), Bo (an edited preset, training), Cy (a network of their own)."""
    teacher, code = workspace.create_class(NAME)
    _member(code, "Ann", engine.network.presets.get("toy-mlp").to_dict())
    _member(code, "Bo <b>", _edited(), RunRecord(1, spec=_edited(), state="running",
                                                  records=[{"kind": "step", "train_loss": 1.0}]))
    _member(code, "Cy", {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]})
    return teacher, code


def test_the_teacher_sees_the_join_code_large_and_a_board_link(klass):
    teacher, code = klass
    at = _page(teacher=teacher)
    join = at.get("markdown")
    assert any(code in m.value and "font-size" in m.value and "enter code" in m.value for m in join)
    board = _store().class_board(teacher)
    assert any(board in c.value and "board=" in c.value for c in at.code)
    assert not any(teacher in c.value for c in at.code if "board=" in c.value)  # the teacher's link is its own


def test_no_ranking_before_a_result_but_who_joined_and_who_trains(klass):
    teacher, code = klass
    at = _page(teacher=teacher)
    assert _table(at, "rank") is None
    assert any("No ranking yet" in i.value for i in at.info)
    table = _table(at, "status")
    rows = {r["student"]: r for r in table.to_dict("records")}
    assert set(rows) == {"Ann", "Bo <b>", "Cy"}
    assert (rows["Ann"]["network"], rows["Ann"]["parameters"]) == ("toy-mlp", "114")
    assert (rows["Bo <b>"]["network"], rows["Bo <b>"]["parameters"]) == ("toy-mlp (edited)", "202")
    assert (rows["Cy"]["network"], rows["Cy"]["parameters"]) == ("custom", "6")
    assert rows["Bo <b>"]["status"] == "training" and rows["Ann"]["status"] == "joined"

    _member(code, "Di", engine.network.presets.get("toy-mlp").to_dict(), _finished(1, 0.9))
    at.run()
    ranking = _table(at, "rank")
    assert list(ranking["student"])[0] == "Di"
    assert list(ranking["rank"]) == ["1", "", "", ""]  # blank without a result (an empty Int64 cell read "None")
    assert list(ranking["best test accuracy"])[0] == "90.0%"
    assert (ranking.set_index("student").loc["Bo <b>", ["network", "parameters"]] == ["toy-mlp (edited)", "202"]).all()
    assert not any("No ranking yet" in i.value for i in at.info)


def test_user_strings_show_as_typed_not_as_markdown(klass):
    teacher, _ = klass
    at = _page(teacher=teacher)
    for m in at.get("markdown") + at.get("subheader") + at.get("header"):
        assert "**bold**" not in m.value or "\\*\\*bold" in m.value or "&#42;" in m.value, m.value
        assert not re.search(r"(?<!\\)\]\(http", m.value), m.value  # an escaped \] makes no link


def test_a_student_opens_as_a_read_only_snapshot(klass):
    teacher, _ = klass
    at = _page(teacher=teacher)
    bo = next(m for m in _store().class_view(teacher).members if m.display_name == "Bo <b>")
    at.selectbox(key="class-member").set_value(bo.key).run()
    at.button(key="class-snapshot").click().run()
    assert not at.exception
    (link,) = [b for b in at.get("link_button") if "ws=" in b.proto.url]
    snapshot = link.proto.url.split("ws=")[1]
    ws = _store().open(snapshot)
    assert ws.read_only and ws.spec == _edited() and [r.number for r in ws.runs] == [1]
    assert teacher not in link.proto.url


def test_the_board_is_read_only_and_holds_no_teacher_key(klass):
    teacher, code = klass
    _member(code, "Di", engine.network.presets.get("toy-mlp").to_dict(), _finished(1, 0.9))
    board = _store().class_board(teacher)
    at = _page(board=board)
    page = _texts(at)
    assert teacher not in page and code in page and "Di" in page
    assert _table(at, "rank")["student"].tolist()[0] == "Di"
    assert at.get("plotly_chart")
    for find, key in ((at.button, "class-push"), (at.button, "class-snapshot"), (at.selectbox, "class-member"),
                      (at.button, "class-remove")):
        with pytest.raises(KeyError):
            find(key=key)  # no push, no snapshots of students, from the board
    assert workspace.PARAM not in at.query_params  # no workspace is opened: none sits in a projected address
    assert teacher not in str(dict(at.query_params))


def test_a_guessed_or_damaged_board_link_gets_a_clear_message():
    for token, message in (("A" * 43, "No class board has this link"), ("guess", "class board link is damaged")):
        at = _page(board=token)
        assert any(message in e.value for e in at.error), [e.value for e in at.error]


def test_a_second_click_reuses_the_snapshot_until_the_student_changes_something(klass, monkeypatch):
    """Each snapshot copies the student's workspace with its weights, and counts towards the teacher's address's
    hourly cap: clicking again shows the same one, unless the student's workspace changed since."""
    teacher, code = klass
    dee = _member(code, "Dee", engine.network.presets.get("toy-mlp").to_dict())
    made = []
    real = _store().member_snapshot

    def member_snapshot(teacher_token, key, ip=None):
        made.append(ip)
        return real(teacher_token, key, ip)

    monkeypatch.setattr(_store(), "member_snapshot", member_snapshot)
    monkeypatch.setattr(database, "client_ip", lambda: "10.0.0.9")
    at = _page(teacher=teacher)
    key = next(m.key for m in _store().class_view(teacher).members if m.display_name == "Dee")
    at.selectbox(key="class-member").set_value(key).run()

    def link():
        (button,) = [b for b in at.get("link_button") if "ws=" in b.proto.url]
        return button.proto.url.split("ws=")[1]

    at.button(key="class-snapshot").click().run()
    first = link()
    at.button(key="class-snapshot").click().run()
    assert link() == first and made == ["10.0.0.9"]  # the teacher's address, as for any new workspace
    _store().save_run(dee, _finished(1, 0.8))  # Dee trains: a new snapshot shows it
    at.button(key="class-snapshot").click().run()
    assert link() != first and len(made) == 2 and [r.number for r in _store().open(link()).runs] == [1]
    assert not at.exception


def _legend(at) -> list[str]:
    """The names in the loss chart's legend, in order."""
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [t["name"] for t in chart["data"] if t.get("showlegend", True)]


def test_two_students_with_the_same_name_are_two_entries(klass):
    """Curves were keyed by display name: the second Ada's replaced the first's (the better one was lost)."""
    teacher, code = klass
    _member(code, "Ada", engine.network.presets.get("toy-mlp").to_dict(), _finished(1, 0.9))
    _member(code, "Ada", engine.network.presets.get("toy-mlp").to_dict(), _finished(1, 0.6))
    at = _page(teacher=teacher)
    ranking = _table(at, "rank")
    assert list(ranking["student"])[:2] == ["Ada", "Ada (2)"]
    assert list(ranking["best test accuracy"])[:2] == ["90.0%", "60.0%"]
    assert sorted(_legend(at)) == ["Ada", "Ada (2)"]
    options = at.selectbox(key="class-member")
    assert sorted(options.options) == sorted(
        ["Ada", "Ada (2)", "Ann", "Bo <b>", "Cy"])


def test_the_teacher_removes_a_student_after_confirming(klass):
    teacher, _ = klass
    at = _page(teacher=teacher)
    bo = next(m for m in _store().class_view(teacher).members if m.display_name == "Bo <b>")
    at.selectbox(key="class-member").set_value(bo.key).run()
    at.button(key="class-remove").click().run()
    assert set(_table(at, "status")["student"]) == {"Ann", "Bo <b>", "Cy"}  # not before confirming
    at.button(key="class-remove-confirm").click().run()
    assert not at.exception
    assert set(_table(at, "status")["student"]) == {"Ann", "Cy"}
    assert bo.key not in _store().class_view(teacher).member_keys
    assert any("removed" in s.value for s in at.success)


def test_one_student_with_many_long_runs_adds_a_bounded_chart(klass):
    """Curves are thinned on the server, and one member draws at most a few runs (their best among them)."""
    teacher, code = klass
    many = [_finished(1, 0.95)] + [_finished(n, 0.5) for n in range(2, 13)]
    for r in many:
        r.records = [{**rec, "epoch": e} for e in range(1, 3001) for rec in r.records[:1]]
    _member(code, "Max", engine.network.presets.get("toy-mlp").to_dict(), *many)
    at = _page(teacher=teacher)
    for chart in at.get("plotly_chart"):
        traces = json.loads(chart.proto.spec)["data"]
        mine = [t for t in traces if t["name"] == "Max"]
        assert 1 <= len(mine) <= engine.limits.MAX_CLASS_RUNS
        assert all(len(t["x"]) <= engine.limits.MAX_CLASS_POINTS for t in mine)
        assert any("#1 " in t["hovertemplate"] for t in mine)  # the best run is among those drawn


def test_removing_a_student_who_already_left_says_so(klass):
    teacher, _ = klass
    at = _page(teacher=teacher)
    ann = next(m for m in _store().class_view(teacher).members if m.display_name == "Ann")
    at.selectbox(key="class-member").set_value(ann.key).run()
    at.button(key="class-remove").click().run()
    _store().remove_member(teacher, ann.key)  # gone meanwhile (left, or removed in another tab)
    at.button(key="class-remove-confirm").click().run()
    assert not at.exception
    assert any("Cannot remove Ann" in e.value and "not in this class" in e.value for e in at.error)


def test_imported_results_are_labelled_and_not_ranked(klass):
    """Issue 17 #11: an untrained run in an uploaded file, claiming 100%, ranked its owner first."""
    from engine.workspace import files
    teacher, code = klass
    toy = engine.network.presets.get("toy-mlp").to_dict()
    _member(code, "Di", toy, _finished(1, 0.9))
    forged = _finished(1, 1.0)
    token = _store().import_zip(files.write(files.WorkspaceFile(spec=toy, runs=[forged])))
    _store().join_class(code, "Eve", token)
    at = _page(teacher=teacher)
    rows = _table(at, "rank").set_index("student")
    assert rows.loc["Di", "rank"] == "1" and rows.loc["Di", "best test accuracy"] == "90.0%"
    assert rows.loc["Eve", "best test accuracy"] == "" and rows.loc["Eve", "rank"] == ""
    assert rows.loc["Eve", "imported runs"] == 1 and rows.loc["Di", "imported runs"] == 0
    hovers = [t["hovertemplate"] for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]
              if t["name"] == "Eve"]
    assert hovers and all("(imported)" in h for h in hovers)
