"""Links give only what they say: the Build page's address holds the workspace alone and offers a network link
(the spec only) to share; the Class page offers the teacher's link without the teacher's workspace."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.network import share
from ui.core import database, workspace
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
BUILD, CLASS = str(ROOT / "views" / "1_Build.py"), str(ROOT / "views" / "6_Class.py")


def _open(path: str, **query) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return at


def _network_link(at: AppTest) -> str:
    links = [c.value for c in at.code if "net=" in c.value]
    assert len(links) == 1, [c.value for c in at.code]
    return links[0]


def test_the_build_address_holds_the_workspace_alone_and_the_network_link_the_spec_alone():
    at = _open(BUILD)
    at.selectbox(key="preset").set_value("lenet5")
    at.button(key="load-preset").click().run()
    token = at.session_state[KEY].token
    assert token and at.query_params[workspace.PARAM] in (token, [token])
    assert "net" not in at.query_params, "the address holds the network and the workspace's write key together"
    link = _network_link(at)
    assert link.endswith("Build?net=p.lenet5") and token not in link and "ws=" not in link


def test_an_incoming_network_link_opens_once_and_leaves_the_address():
    at = _open(BUILD, net="p.xo-cnn")
    assert at.session_state[KEY].spec == engine.network.presets.get("xo-cnn")
    assert "net" not in at.query_params and at.query_params[workspace.PARAM]
    at.run()
    assert at.session_state[KEY].spec == engine.network.presets.get("xo-cnn")
    assert share.decode(_network_link(at).split("net=")[1]) == engine.network.presets.get("xo-cnn")


def test_an_old_link_with_both_opens_the_workspace_with_that_network():
    token = store_mod.get_store().create(spec=engine.network.presets.get("toy-mlp").to_dict())
    at = _open(BUILD, net="p.xo-cnn", **{workspace.PARAM: token})
    assert at.session_state[KEY].token == token and at.session_state[KEY].spec.name == "xo-cnn"
    assert "net" not in at.query_params
    again = _open(BUILD, **{workspace.PARAM: token})  # the reload of the cleaned address: the same network
    assert again.session_state[KEY].spec.name == "xo-cnn"


def test_without_a_workspace_the_address_keeps_the_network(monkeypatch):
    def down(*args, **kwargs):
        raise store_mod.StoreUnavailable("the database is locked")

    monkeypatch.setattr(database, "_services", down)
    at = _open(BUILD, net="p.xo-cnn")
    assert at.session_state[KEY].token is None
    assert at.query_params["net"] in ("p.xo-cnn", ["p.xo-cnn"])  # nothing to leak: a reload keeps the network


def test_the_class_page_offers_the_teachers_link_without_the_teachers_workspace():
    teacher, _ = workspace.create_class("Week 3")
    at = _open(CLASS, teacher=teacher)
    mine = at.session_state[KEY].token
    links = [c.value for c in at.code if f"teacher={teacher}" in c.value]
    assert len(links) == 1 and mine not in links[0] and "ws=" not in links[0]
    said = " ".join(m.value for m in at.markdown)
    assert "This page's address is the key" not in said
