"""engine.limits: each cap read from its environment variable; a bad value falls back to the default, with a warning."""
import importlib.util
import logging

from engine import limits


def _fresh_limits(monkeypatch, **env):
    """A new copy of engine/limits.py read under ``env``: the imported module (and every cap it holds) stays as is."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("limits_under_test", limits.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_nice_zero_turns_the_nicing_off_as_the_readme_says(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        fresh = _fresh_limits(monkeypatch, PLAYGROUND_TRAIN_NICE="0")
    assert fresh.TRAIN_NICE == 0
    assert "PLAYGROUND_TRAIN_NICE" not in caplog.text


def test_train_nice_below_zero_falls_back_to_its_default_with_a_warning(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        fresh = _fresh_limits(monkeypatch, PLAYGROUND_TRAIN_NICE="-5")
    assert fresh.TRAIN_NICE == 10
    assert "PLAYGROUND_TRAIN_NICE='-5'" in caplog.text


def test_a_cap_of_zero_still_falls_back_to_its_default(monkeypatch, caplog):
    """A cap of 0 would refuse everything (no run, no upload): only the nice value may be 0."""
    with caplog.at_level(logging.WARNING):
        fresh = _fresh_limits(monkeypatch, PLAYGROUND_MAX_RUN_SECONDS="0")
    assert fresh.MAX_RUN_SECONDS == 600
    assert "PLAYGROUND_MAX_RUN_SECONDS='0' is not a positive whole number" in caplog.text


def test_a_malformed_limit_falls_back_to_its_default_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv("PLAYGROUND_MAX_RUN_SECONDS", "1e3")
    with caplog.at_level("WARNING", logger="engine.limits"):
        assert limits._env_int("PLAYGROUND_MAX_RUN_SECONDS", 600) == 600
    assert "PLAYGROUND_MAX_RUN_SECONDS='1e3' is not a positive whole number" in caplog.text
    monkeypatch.setenv("PLAYGROUND_MAX_RUN_SECONDS", "900")
    assert limits._env_int("PLAYGROUND_MAX_RUN_SECONDS", 600) == 900
