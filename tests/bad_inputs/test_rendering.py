"""Markdown and HTML from users are shown as text: names, file names and links' contents never become images,
links or tags in the pages' text elements, messages or chart labels."""
import base64
import json
import re
import zlib
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import figures
from ui.core import text, workspace

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "views"
IMAGE = "![t](http://x.invalid/t.png)"
LINK = "[a](http://x.invalid)"
TAG = "<b>x</b>"
HOSTILE = f"{IMAGE} {LINK} {TAG} www.x.invalid"
KINDS = ("markdown", "caption", "error", "warning", "info", "success", "subheader", "header", "title")


def _live(body: str) -> list[str]:
    """What markdown would still render as an image, a link, a tag or a bare address in this body."""
    body = re.sub(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", "", body)  # code spans show their text as it is
    return (re.findall(r"(?<!\\)!?\[[^\]]*(?<!\\)\]\(", body) + re.findall(r"(?<!\\)<[A-Za-z/]", body)
            + re.findall(r"(?i)https?://|www\.", body))


def _showing(at: AppTest) -> list[str]:
    """The bodies of every text element that shows a hostile string (the sidebar's included)."""
    bodies = [e.value for kind in KINDS for e in at.get(kind)]
    return [b for b in bodies if "x.invalid" in b]


def _assert_inert(at: AppTest) -> None:
    shown = _showing(at)
    assert shown, "the hostile string is not shown at all"
    for body in shown:
        assert not _live(body), body


def _token(spec: dict) -> str:
    raw = zlib.compress(json.dumps(spec).encode(), 9)
    return "z." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _open(page: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return at


def test_the_helpers_leave_nothing_live():
    for made in (text.plain(HOSTILE), text.message(f"layer 0: unknown layer type {HOSTILE!r}")):
        assert not _live(made), made
    assert text.code("a`b") == "``a`b``" and text.code("`x") == "`` `x ``"


def test_an_unknown_layer_type_in_a_link_is_quoted_as_text():
    at = _open("1_Build.py", net=_token({"input": [2], "layers": [{"type": HOSTILE}]}))
    _assert_inert(at)


def test_an_unknown_argument_in_a_link_is_quoted_as_text():
    at = _open("1_Build.py", net=_token({"input": [2], "layers": [{"type": "Linear", "out_features": 2,
                                                                    HOSTILE: 1, f"a` {IMAGE} `b": 2}]}))
    _assert_inert(at)
    assert any("is not an argument" in w.value for w in at.warning)


def test_a_network_name_shows_as_text_on_every_page():
    spec = {"name": "see http://x.invalid/t.png or www.x.invalid", "input": [2],
            "layers": [{"type": "Linear", "out_features": 2}]}
    at = _open("1_Build.py", net=_token(spec))
    assert at.session_state["playground"].spec.name == spec["name"]  # a name spec checks allow: it opens
    _assert_inert(at)
    token = store_mod.get_store().create(spec=spec)
    for page in ("3_Train.py", "4_Inspect.py"):
        _assert_inert(_open(page, **{workspace.PARAM: token}))


def test_an_imported_file_name_shows_as_text():
    at = _open("1_Build.py")
    at.file_uploader(key="import-json").set_value((f"{HOSTILE}.json", b"{not json", "application/json")).run()
    assert not at.exception
    _assert_inert(at)


def test_a_class_name_and_display_name_show_as_text_in_a_members_sidebar():
    _, code = workspace.create_class(f"Week 3 {HOSTILE}")
    token = store_mod.get_store().create(spec=engine.network.presets.get("toy-mlp").to_dict())
    store_mod.get_store().join_class(code, f"Ada {HOSTILE}", token)
    _assert_inert(_open("1_Build.py", **{workspace.PARAM: token}))


def test_chart_labels_hold_no_html():
    records = [{"kind": "epoch", "epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5}]
    fig = figures.class_curves_figure({"member-1": ("<a href='http://x.invalid'>Ada</a>", [(f"#1 {TAG}", {
        "epoch": [1], "val_loss": [1.0]})])}, "loss")
    assert fig.data and all("<a" not in t.name and "<b>" not in t.hovertemplate for t in fig.data)
    fig = figures.curves_figure({f"#1 {TAG}": records, "#2 <a href='http://x.invalid'>": records}, "loss")
    assert fig.data and all("<" not in t.name for t in fig.data)


def test_uploaded_file_names_on_the_train_page_show_as_text():
    from tests.app.train.test_train_uploads import GOOD_TEXT, _page

    at = _page("char-rnn")
    at.file_uploader(key="tr-text").upload(f"{HOSTILE}.txt", GOOD_TEXT, "text/plain").run()
    assert not at.exception
    _assert_inert(at)
    at = _page("toy-mlp")
    weights = engine.training.save_weights(engine.build(engine.network.presets.get("toy-mlp"), seed=7))
    at.file_uploader(key="tr-weights").upload(f"{HOSTILE}.safetensors", weights, "application/octet-stream").run()
    assert not at.exception and at.success
    _assert_inert(at)
