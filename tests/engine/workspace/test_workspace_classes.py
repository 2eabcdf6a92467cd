"""Classes: join codes, the teacher's view (only what changed), networks pushed to members."""
import time

import pytest
from ws_helpers import RESULTS, run

import engine
from engine import limits
from engine.workspace import CapReached, MalformedToken, RunRecord, UnknownJoinCode, UnknownToken, WorkspaceError
from engine.workspace import drawn_runs
from engine.workspace.checks import CODE_ALPHABET


def test_a_join_code_is_short_and_typeable(store):
    codes = [store.create_class(f"class {i}")[1] for i in range(30)]
    assert all(len(code) == 6 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not set("".join(codes)) & set("0O1I")
    assert len(set(codes)) == 30


def test_join_view_and_push(store, trained):
    teacher, code = store.create_class("Year 10, set 2")
    alex = store.create(spec=trained.spec)
    sam = store.create(spec={"input": [2], "layers": []})
    store.join_class(f" {code[:3].lower()}-{code[3:]} ", "Alex", alex)  # as typed off a projector
    store.join_class(code, "Sam", sam)
    store.save_run(alex, run(1, trained))
    store.save_run(alex, run(2, trained, state="running", records=trained.records[:4], results=None))
    assert store.open(alex).class_name == "Year 10, set 2" and store.open(alex).display_name == "Alex"

    view = store.class_view(teacher)
    assert (view.name, view.code, view.pushed_version) == ("Year 10, set 2", code, 0)
    assert [m.display_name for m in view.members] == ["Alex", "Sam"] and len(set(view.member_keys)) == 2
    member = view.members[0]
    assert member.spec == trained.spec
    assert member.parameters == engine.summarize(engine.ModelSpec.from_dict(trained.spec)).total_params == 114
    finished, live = member.runs
    assert (finished.label, finished.state, finished.results) == ("run 1", "finished", RESULTS)
    epochs = [r for r in trained.records if r["kind"] == "epoch"]
    assert finished.epochs == {key: [r[key] for r in epochs]
                               for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")}
    assert live.state == "running"

    quiet = store.class_view(teacher, since=view.as_of + 10)  # nothing changed since
    assert quiet.members == [] and quiet.member_keys == view.member_keys
    before = time.time()
    store.save_run(sam, RunRecord(1, spec={"input": [2], "layers": []}, state="queued"))
    changed = store.class_view(teacher, since=before - 0.001)
    assert [m.display_name for m in changed.members] == ["Sam"]

    assert store.open(alex).push is None
    assert store.push(teacher, trained.spec, {"train": {"lr": 0.1}}) == 1
    assert store.push(teacher, {"input": [2], "layers": []}, None) == 2
    ws = store.open(alex)
    assert ws.push.version == 2 and ws.push.spec == {"input": [2], "layers": []} and ws.new_push is ws.push
    store.save(alex, pushed_version=2)
    assert store.open(alex).new_push is None and store.class_view(teacher).pushed_version == 2


def test_rejoining_renames_and_another_class_moves(store):
    first, code1 = store.create_class("A")
    second, code2 = store.create_class("B")
    token = store.create(spec={"input": [2], "layers": []})
    store.join_class(code1, "Kim", token)
    key = store.class_view(first).member_keys[0]
    store.join_class(code1, "Kim L.", token)
    assert [(m.key, m.display_name) for m in store.class_view(first).members] == [(key, "Kim L.")]
    store.join_class(code2, "Kim", token)
    assert store.class_view(first).member_keys == [] and len(store.class_view(second).member_keys) == 1
    assert store.class_view(second).member_keys != [key]  # a new handle in a new class


def test_a_live_run_nothing_flushes_shows_interrupted_to_the_teacher(store):
    teacher, code = store.create_class("C")
    token = store.create(spec={"input": [2], "layers": []})
    store.join_class(code, "Lee", token)
    store.save_run(token, RunRecord(1, state="running", records=[{"kind": "step", "train_loss": 1.0}]))
    assert store.class_view(teacher).members[0].runs[0].state == "running"
    store.interrupt_after = 0.0
    time.sleep(0.01)
    since = time.time()
    assert store.class_view(teacher, since=since).members[0].runs[0].state == "interrupted"  # and it counts as new


def test_bad_codes_names_and_teacher_links(store):
    _, code = store.create_class("D")
    token = store.create(spec={"input": [2], "layers": []})
    for bad in ("", "ABC", "ABCDEFG", "0O1I00", None, 123456):
        with pytest.raises(UnknownJoinCode, match="not a join code"):
            store.join_class(bad, "Ann", token)
    unused = next(c for c in ("ABCDEF", "GHJKMN", "PQRSTU") if c != code)
    with pytest.raises(UnknownJoinCode, match="No class has the join code"):
        store.join_class(unused, "Ann", token)
    for name in ("", "   ", "x" * 101, "tab\there", None):
        with pytest.raises(WorkspaceError, match="display name"):
            store.join_class(code, name, token)
    with pytest.raises(WorkspaceError, match="class name"):
        store.create_class("")
    with pytest.raises(MalformedToken, match="teacher link is damaged"):
        store.class_view("short")
    with pytest.raises(UnknownToken, match="No class has this teacher link"):
        store.push(token, {"input": [2], "layers": []}, None)  # a student's token is no teacher's


def test_the_class_board_shows_the_class_read_only_without_the_teacher_key(store, trained):
    """A board link for the projector: the same class view, but its token opens nothing a teacher can do."""
    teacher, code = store.create_class("Week 3")
    board = store.class_board(teacher)
    assert board != teacher and teacher not in board and len(board) >= 32
    assert store.class_board(teacher) == board  # the same link every time the teacher's page asks
    alex = store.create(spec=trained.spec)
    store.join_class(code, "Alex", alex)
    store.save_run(alex, run(1, trained))
    view = store.board_view(board)
    assert (view.name, view.code) == ("Week 3", code)
    assert [(m.display_name, [r.results for r in m.runs]) for m in view.members] == [("Alex", [RESULTS])]
    assert store.board_view(board, since=view.as_of + 10).members == []
    with pytest.raises(UnknownToken, match="No class has this teacher link"):
        store.class_view(board)  # the board's token is no teacher's: no push, no snapshots
    with pytest.raises(UnknownToken, match="No class has this teacher link"):
        store.push(board, trained.spec, None)
    with pytest.raises(UnknownToken, match="No class board has this link"):
        store.board_view(teacher)
    with pytest.raises(MalformedToken, match="class board link is damaged"):
        store.board_view("guessed")
    other, _ = store.create_class("Week 4")
    assert store.class_board(other) != board


def test_the_board_digest_is_filled_for_a_class_made_before_boards(store):
    from sqlalchemy import update

    from engine.workspace.schema import ClassRow

    teacher, _ = store.create_class("Old")
    with store.db.writing() as session:  # as the database upgraded from before boards holds it
        session.execute(update(ClassRow).values(board_digest=None))
    board = store.class_board(teacher)
    assert store.board_view(board).name == "Old"


def test_a_members_network_says_its_preset_and_whether_it_was_edited(store, trained):
    teacher, code = store.create_class("E")
    edited = engine.network.presets.get("toy-mlp").to_dict()
    edited["layers"][0]["out_features"] = 16
    for name, spec in (("Ann", engine.network.presets.get("toy-mlp").to_dict()), ("Bo", edited),
                       ("Cy", {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]})):
        store.join_class(code, name, store.create(spec=spec))
    view = store.class_view(teacher)
    assert [(m.display_name, m.preset, m.edited, m.parameters) for m in view.members] == [
        ("Ann", "toy-mlp", False, 114), ("Bo", "toy-mlp", True, 2 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2),
        ("Cy", None, False, 6)]


def test_a_teacher_opens_a_read_only_snapshot_of_a_member(store, trained):
    teacher, code = store.create_class("F")
    alex = store.create(spec=trained.spec)
    store.join_class(code, "Alex", alex)
    store.save_run(alex, run(1, trained))
    key = store.class_view(teacher).members[0].key
    snapshot = store.member_snapshot(teacher, key)
    ws = store.open(snapshot)
    assert ws.read_only and ws.spec == trained.spec and [r.number for r in ws.runs] == [1]
    assert snapshot != alex and store.open(alex).runs[0].number == 1
    other, _ = store.create_class("G")
    with pytest.raises(UnknownToken, match="not in this class"):
        store.member_snapshot(other, key)  # another teacher cannot look at this class's students
    with pytest.raises(UnknownToken, match="not in this class"):
        store.member_snapshot(teacher, "0123abcd")
    with pytest.raises(UnknownToken, match="No class has this teacher link"):
        store.member_snapshot(store.class_board(teacher), key)


def test_a_teachers_snapshots_count_towards_the_hourly_cap_of_their_address(store, trained, monkeypatch):
    """Each snapshot copies the member's workspace with its weights: the teacher's address is capped as any."""
    monkeypatch.setattr(limits, "MAX_WORKSPACES_PER_IP_HOUR", 2)
    teacher, code = store.create_class("H")
    store.join_class(code, "Alex", store.create(spec=trained.spec))
    key = store.class_view(teacher).members[0].key
    for _ in range(2):
        store.member_snapshot(teacher, key, "10.0.0.7")
    with pytest.raises(CapReached, match="PLAYGROUND_MAX_WORKSPACES_PER_IP_HOUR"):
        store.member_snapshot(teacher, key, "10.0.0.7")
    store.member_snapshot(teacher, key, "10.0.0.8")  # another address is not held back


def test_a_teacher_removes_a_member_who_keeps_their_workspace(store, trained):
    teacher, code = store.create_class("Year 10")
    other_teacher, other_code = store.create_class("Year 11")
    alex, sam = store.create(spec=trained.spec), store.create(spec=trained.spec)
    store.join_class(code, "Alex", alex)
    store.join_class(code, "Sam", sam)
    store.save_run(alex, run(1, trained))
    key = next(m.key for m in store.class_view(teacher).members if m.display_name == "Alex")
    with pytest.raises(UnknownToken):
        store.remove_member(other_teacher, key)  # another class's teacher cannot
    with pytest.raises(MalformedToken):
        store.remove_member("guess", key)
    store.remove_member(teacher, key)
    view = store.class_view(teacher)
    assert [m.display_name for m in view.members] == ["Sam"] and key not in view.member_keys
    ws = store.open(alex)
    assert (ws.class_name, ws.display_name, ws.push) == (None, None, None)
    assert [r.number for r in ws.runs] == [1]  # their work is theirs
    with pytest.raises(UnknownToken):
        store.remove_member(teacher, key)  # already gone: said so
    store.join_class(other_code, "Alex", alex)  # free to join a class again
    assert store.open(alex).class_name == "Year 11"


def test_a_member_leaves_their_class(store, trained):
    teacher, code = store.create_class("Year 10")
    alex = store.create(spec=trained.spec)
    store.join_class(code, "Alex", alex)
    store.push(teacher, trained.spec, None)
    assert store.open(alex).push is not None
    store.leave_class(alex)
    ws = store.open(alex)
    assert (ws.class_name, ws.display_name, ws.push) == (None, None, None)
    assert store.class_view(teacher).members == []
    store.leave_class(alex)  # not in a class: nothing to do
    snapshot = store.snapshot(alex)
    with pytest.raises(WorkspaceError):
        store.leave_class(snapshot)  # a read-only snapshot changes nothing


def _many_epochs(n: int, accuracy: float = 0.5) -> list[dict]:
    return [{"kind": "epoch", "epoch": e, "train_loss": 1.0 / e, "train_acc": accuracy, "val_loss": 1.0 / e,
             "val_acc": accuracy} for e in range(1, n + 1)]


def test_a_member_with_a_huge_run_reaches_the_teacher_thinned(store, trained):
    """A run of 50,000 epoch records sent its five 50,000-long curves on every poll (649k froze the tab)."""
    teacher, code = store.create_class("Year 10")
    alex = store.create(spec=trained.spec)
    store.join_class(code, "Alex", alex)
    store.save_run(alex, run(1, trained, records=_many_epochs(50_000)))
    [curve] = [r.epochs for m in store.class_view(teacher).members for r in m.runs]
    assert all(len(v) <= limits.MAX_CLASS_POINTS for v in curve.values())
    assert curve["epoch"][0] == 1 and curve["epoch"][-1] == 50_000  # first and last kept, evenly between
    assert curve["epoch"] == sorted(curve["epoch"])


def test_an_unthinned_stored_curve_is_thinned_on_the_way_out(store, trained):
    """Rows written before thinning keep their long epochs column: the view thins them too."""
    from sqlalchemy import update

    from engine.workspace.runs import EPOCH_KEYS
    from engine.workspace.schema import RunRow

    teacher, code = store.create_class("Year 10")
    alex = store.create(spec=trained.spec)
    store.join_class(code, "Alex", alex)
    store.save_run(alex, run(1, trained))
    with store.db.writing() as session:
        session.execute(update(RunRow).values(epochs={k: list(range(1, 20_001)) for k in EPOCH_KEYS}))
    [curve] = [r.epochs for m in store.class_view(teacher).members for r in m.runs]
    assert len(curve["epoch"]) <= limits.MAX_CLASS_POINTS and curve["epoch"][-1] == 20_000


def test_a_members_poll_says_its_class_and_new_push_in_one_go(store, trained):
    teacher, code = store.create_class("Year 10")
    alex = store.create(spec=trained.spec)
    assert store.class_poll(alex) == (None, None)
    store.join_class(code, "Alex", alex)
    assert store.class_poll(alex) == ("Year 10", None)
    store.push(teacher, trained.spec, None)
    name, push = store.class_poll(alex)
    assert name == "Year 10" and push.version == 1 and push.spec == trained.spec
    store.leave_class(alex)
    assert store.class_poll(alex) == (None, None)


def test_an_imported_run_is_marked_imported_and_not_ranked_best(store, trained, monkeypatch):
    """Issue 17 #11: a file's runs may carry any results; the importer marks them, whatever the file says."""
    from engine.workspace import files
    forged = run(1, trained, results={"loss": 0.0, "accuracy": 1.0}, context={"imported": False})
    data = files.write(files.WorkspaceFile(spec=trained.spec, runs=[forged]))
    token = store.import_zip(data)
    store.save_run(token, run(2, trained))  # trained here: RESULTS, accuracy 0.95
    teacher, code = store.create_class("Provenance")
    store.join_class(code, "Eve", token)
    imported, own = store.class_view(teacher).members[0].runs
    assert (imported.number, imported.imported, own.number, own.imported) == (1, True, 2, False)
    assert store.open(store.copy(token)).runs[0].context["imported"] is True  # a copy keeps the provenance
    monkeypatch.setattr(limits, "MAX_CLASS_RUNS", 1)  # the chart draws only the member's best run
    assert drawn_runs([imported, own]) == [own]  # the run trained here, not the imported 100%


def test_an_imported_flag_in_a_file_of_a_different_type_is_refused(store, trained):
    from engine.workspace import files
    data = files.write(files.WorkspaceFile(spec=trained.spec, runs=[run(1, trained, context={"imported": "no"})]))
    with pytest.raises(WorkspaceError, match="imported"):
        store.import_zip(data)
