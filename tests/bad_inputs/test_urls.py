"""Tampered shared links: the Build page's ?net= token edited by hand, truncated, inflated or pointing nowhere.

engine.network.share.decode refuses each with a SpecError; the Build page (ui/build/editor.url_sync_ui) shows a warning and
falls back to the default network on a first visit, or, later in a session, keeps the student's network.
"""
import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import limits
from engine.network import share

ROOT = Path(__file__).resolve().parents[2]
BUILD = str(ROOT / "views" / "1_Build.py")


def _z(payload: bytes) -> str:
    return "z." + base64.urlsafe_b64encode(zlib.compress(payload, 9)).decode().rstrip("=")


GOOD = share.encode(engine.ModelSpec.from_dict({"name": "mine", "input": [2], "layers": [
    {"type": "Linear", "out_features": 3}]}))

TAMPERED = {  # name -> (token, words of the SpecError)
    "unknown preset": ("p.not-a-preset", "unknown preset"),
    "preset with path tricks": ("p.../../etc/passwd", "unknown preset"),
    "unknown scheme": ("x.abc", "not a playground network"),
    "no scheme": ("hello", "not a playground network"),
    "empty": ("", "not a playground network"),
    "truncated token": (GOOD[:-6], "damaged"),
    "one character flipped": (GOOD[:10] + ("A" if GOOD[10] != "A" else "B") + GOOD[11:], "damaged|JSON|spec"),
    "not base64": ("z.!!!***", "damaged"),
    "base64 of garbage": ("z." + base64.urlsafe_b64encode(b"garbage bytes here").decode(), "damaged"),
    "too long": ("z." + "A" * (share.MAX_TOKEN_CHARS + 1), "too long"),
    "zip bomb": (_z(b" " * (limits.MAX_SPEC_BYTES * 40)), "larger than this server accepts"),
    "valid zlib, not JSON": (_z(b"not json at all"), "not valid JSON"),
    "valid zlib, not UTF-8": (_z(b"\xff\xfe\xfa" * 10), "damaged"),
    "NaN inside": (_z(b'{"input": [2], "layers": [{"type": "Dropout", "p": NaN}]}'), "NaN"),
    "wrong types inside": (_z(json.dumps({"input": "2", "layers": []}).encode()), "'input' must be"),
    "unknown layer inside": (_z(json.dumps({"input": [2], "layers": [{"type": "Exec"}]}).encode()),
                             "unknown layer type"),
    "too many layers": (_z(json.dumps({"input": [2], "layers": [{"type": "ReLU"}] * 5_000}).encode()), "layers"),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_tampered_tokens_are_refused_with_a_clear_message(name):
    token, words = TAMPERED[name]
    with pytest.raises(engine.SpecError, match=words):
        share.decode(token)


@pytest.mark.parametrize("value", [None, 12, b"p.lenet5", ["p.lenet5"]])
def test_tokens_of_the_wrong_type_are_refused(value):
    with pytest.raises(engine.SpecError):
        share.decode(value)


def test_a_good_token_still_round_trips():
    assert share.decode(GOOD).layers == [{"type": "Linear", "out_features": 3}]


# ------------------------------------------------------------------ the Build page
def _open(token: str) -> AppTest:
    at = AppTest.from_file(BUILD, default_timeout=60)
    at.query_params["net"] = token
    at.run()
    assert not at.exception
    return at


@pytest.mark.parametrize("name", ["unknown preset", "truncated token", "not base64", "too long", "zip bomb",
                                  "NaN inside", "unknown layer inside"])
def test_build_page_first_visit_with_a_tampered_link_warns_and_shows_the_default(name):
    at = _open(TAMPERED[name][0])
    assert any("could not be opened" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.session_state["playground"].spec == engine.network.presets.get("mnist-cnn")
    assert "net" not in at.query_params  # the bad link has left the address; the network link is a good one
    assert [c.value for c in at.code if "net=" in c.value][0].endswith("Build?net=p.mnist-cnn")


def test_build_page_tampered_link_later_in_a_session_keeps_the_students_network():
    at = _open(GOOD)
    mine = at.session_state["playground"].spec
    assert mine.name == "mine"
    at.query_params["net"] = TAMPERED["zip bomb"][0]
    at.run()
    assert not at.exception
    assert any("could not be opened" in w.value for w in at.warning)
    assert at.session_state["playground"].spec == mine, "a bad link replaced the student's own network"
