"""Rates through the pages in AppTest: wrong join codes earn a wait with the seconds left, and a network that made
too many classes this hour is told so; the student's work and the teacher's name stay."""
import secrets
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine import limits
from ui.core import database, workspace
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
INSPECT = str(ROOT / "views" / "4_Inspect.py")
CLASS = str(ROOT / "views" / "6_Class.py")


def _errors(at) -> str:
    return " ".join(e.value for e in at.error)


def test_wrong_join_codes_earn_a_wait_with_the_seconds_left(monkeypatch):
    monkeypatch.setattr(limits, "JOIN_WRONG_PER_MINUTE", 3)
    monkeypatch.setattr(limits, "JOIN_WAIT_SECONDS", 60)
    _, code = workspace.create_class("Week 6")
    at = AppTest.from_file(INSPECT, default_timeout=60)
    at.run()
    at.text_input(key="ws-join-name").input("Ada")
    for _ in range(3):
        at.text_input(key="ws-join-code").input("ZZZZZZ").run()
        at.button(key="ws-join").click().run()
        assert not at.exception and "No class has the join code" in _errors(at)
    at.text_input(key="ws-join-code").input(code).run()
    at.button(key="ws-join").click().run()
    assert not at.exception
    assert "Too many wrong codes: try again in 60 s" in _errors(at), _errors(at)
    assert at.session_state[KEY].class_name is None
    assert at.text_input(key="ws-join-code").value == code  # what they typed stays for the next try


def test_too_many_classes_from_one_network_says_so(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CLASSES_PER_IP_HOUR", 1)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    monkeypatch.setattr(database, "client_ip", lambda: address)
    workspace.create_class("Week 7")
    at = AppTest.from_file(CLASS, default_timeout=60)
    at.run()
    at.text_input(key="class-name").input("Week 8").run()
    at.button(key="class-create").click().run()
    assert not at.exception
    shown = _errors(at)
    assert "1 classes were made from your network in the last hour" in shown, shown
    assert "PLAYGROUND_MAX_CLASSES_PER_IP_HOUR" in shown
    assert at.text_input(key="class-name").value == "Week 8"
