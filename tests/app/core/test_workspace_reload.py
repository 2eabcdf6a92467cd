"""A reload keeps what the workspace holds: the Build page's own ``?net=`` address (its current network) neither
resets the trained model nor saves it untrained; a teacher's push saves the model it resets."""
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.network import share
from engine.training import save_weights
from ui.core import database, workspace
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
BUILD = str(ROOT / "views" / "1_Build.py")
INSPECT = str(ROOT / "views" / "4_Inspect.py")
TRAIN = str(ROOT / "views" / "3_Train.py")  # draws no keep_alive: nothing saves after the sidebar
DATASET = {"name": "circle", "seed": 0, "options": {}}


def _page(path: str, **params) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def _trained_workspace(spec: engine.ModelSpec) -> tuple[str, torch.nn.Module]:
    """A stored workspace whose model is ``spec`` trained (weights unlike seed 0's)."""
    store = store_mod.get_store()
    token = store.create(spec=spec.to_dict())
    model = engine.build(spec, seed=7)
    store.save(token, model={"trained": True, "dataset": DATASET, "adopted": []},
               model_weights=save_weights(model))
    return token, model


def test_reloading_build_with_its_own_network_link_keeps_the_trained_model():
    spec = engine.network.presets.get("toy-mlp")
    token, model = _trained_workspace(spec)
    build = _page(BUILD, **{workspace.PARAM: token, "net": share.encode(spec)})  # a reload of Build
    session = build.session_state[KEY]
    assert session.trained and session.spec == spec
    x = torch.randn(5, 2)
    with torch.no_grad():
        assert torch.allclose(session.get_model()(x), model(x), atol=1e-6)
    assert database.services()[1].flush(30)
    stored = store_mod.get_store().open(token)
    assert stored.model["trained"] and store_mod.get_store().model_weights(token) is not None
    inspect = _page(INSPECT, **{workspace.PARAM: token})
    assert inspect.session_state[KEY].trained
    assert not any("untrained" in i.value for i in inspect.info)


def test_a_link_to_another_network_still_replaces_the_model():
    token, _ = _trained_workspace(engine.network.presets.get("toy-mlp"))
    other = engine.network.presets.get("xo-cnn")
    build = _page(BUILD, **{workspace.PARAM: token, "net": share.encode(other)})
    assert build.session_state[KEY].spec == other and not build.session_state[KEY].trained
    assert database.services()[1].flush(30)
    assert store_mod.get_store().open(token).spec == other.to_dict()


def _class_member_trained() -> tuple[str, str]:
    """A class member's stored workspace with a trained toy-mlp; (its token, the teacher's token)."""
    token, _ = _trained_workspace(engine.network.presets.get("toy-mlp"))
    teacher, code = workspace.create_class("Week 5")
    store_mod.get_store().join_class(code, "Ada", token)
    return token, teacher


def _assert_stored_untrained_push(token: str, pushed: engine.ModelSpec) -> None:
    assert database.services()[1].flush(30)
    store = store_mod.get_store()
    stored = store.open(token)
    assert stored.spec == pushed.to_dict()
    assert not (stored.model or {}).get("trained") and store.model_weights(token) is None
    reopened = _page(INSPECT, **{workspace.PARAM: token})  # a reload reads the database
    assert reopened.session_state[KEY].spec == pushed and not reopened.session_state[KEY].trained


def test_a_push_taken_on_load_saves_the_model_it_resets():
    token, teacher = _class_member_trained()
    pushed = engine.network.presets.get("xo-cnn")
    store_mod.get_store().push(teacher, pushed.to_dict(), None)
    at = _page(INSPECT, **{workspace.PARAM: token})
    assert at.session_state[KEY].spec == pushed and not at.session_state[KEY].trained
    _assert_stored_untrained_push(token, pushed)


def test_a_push_taken_by_an_open_page_saves_the_model_it_resets(monkeypatch):
    from ui.core import pushes

    monkeypatch.setattr(pushes, "PUSH_POLL", 0.0)
    token, teacher = _class_member_trained()
    at = _page(TRAIN, **{workspace.PARAM: token})
    assert at.session_state[KEY].trained
    pushed = engine.network.presets.get("xo-cnn")
    store_mod.get_store().push(teacher, pushed.to_dict(), {"train": None})
    # The push watch's tick (a fragment's run, not the page's) takes it; the tab closes before the page reruns.
    assert pushes.poll_push(at.session_state[KEY])
    assert at.session_state[KEY].spec == pushed
    _assert_stored_untrained_push(token, pushed)
