"""Join-code guessing is throttled per workspace and per address; class creation is capped per address."""
import pytest

from engine import limits
from engine.workspace import CapReached, TooManyTries, UnknownJoinCode


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(store):
    store.throttle.clock = clock = Clock()
    return clock


def new(store):
    return store.create(spec={"input": [2], "layers": []})


def wrong(store, token, ip="10.0.0.1", times=1):
    for _ in range(times):
        with pytest.raises(UnknownJoinCode):
            store.join_class("ZZZZZZ", "Ada", token, ip=ip)


def test_wrong_codes_are_throttled_per_workspace(store, clock, monkeypatch):
    monkeypatch.setattr(limits, "JOIN_WRONG_PER_MINUTE", 5)
    monkeypatch.setattr(limits, "JOIN_WAIT_SECONDS", 60)
    _, code = store.create_class("Week 3")
    token = new(store)
    wrong(store, token, times=5)
    with pytest.raises(TooManyTries, match=r"Too many wrong codes: try again in 60 s"):
        store.join_class(code, "Ada", token, ip="10.0.0.1")  # even the right code waits: no oracle while blocked
    clock.now += 45
    with pytest.raises(TooManyTries, match=r"try again in 15 s"):
        store.join_class(code, "Ada", token, ip="10.0.0.1")
    store.join_class(code, "Ada", new(store), ip="10.0.0.1")  # a classmate on the same network is not blocked
    clock.now += 16
    store.join_class(code, "Ada", token, ip="10.0.0.1")
    assert store.open(token).class_name == "Week 3"


def test_wrong_codes_are_throttled_per_address(store, clock, monkeypatch):
    monkeypatch.setattr(limits, "JOIN_WRONG_PER_MINUTE", 5)
    monkeypatch.setattr(limits, "JOIN_WRONG_PER_IP_MINUTE", 8)
    _, code = store.create_class("Week 3")
    for _ in range(2):  # new workspaces do not get fresh tries: the address is counted too
        wrong(store, new(store), times=4)
    with pytest.raises(TooManyTries, match="Too many wrong codes"):
        store.join_class(code, "Ada", new(store), ip="10.0.0.1")
    store.join_class(code, "Ada", new(store), ip="10.0.0.2")  # another network is not


def test_wrong_codes_spread_out_are_not_throttled(store, clock, monkeypatch):
    monkeypatch.setattr(limits, "JOIN_WRONG_PER_MINUTE", 5)
    _, code = store.create_class("Week 3")
    token = new(store)
    for _ in range(10):  # a typo now and then, a minute apart
        wrong(store, token)
        clock.now += 61
    store.join_class(code, "Ada", token, ip="10.0.0.1")


def test_class_creation_is_capped_per_address_per_hour(store, clock, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CLASSES_PER_IP_HOUR", 3)
    for _ in range(3):
        store.create_class("Week 3", ip="10.0.0.1")
    with pytest.raises(CapReached, match="3 classes were made from your network in the last hour.*"
                                         "PLAYGROUND_MAX_CLASSES_PER_IP_HOUR"):
        store.create_class("Week 3", ip="10.0.0.1")
    store.create_class("Week 3", ip="10.0.0.2")
    clock.now += 3601
    store.create_class("Week 3", ip="10.0.0.1")
