"""The Train settings' table (``ui.train.settings.TABLE``) declares each setting once: a default changed there shows
in its widget on the page, is what the workspace saves, and is what the engine's config of a run gets."""
import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine.training import TrainConfig
from tests.app.train.test_train import PAGE, runs, wait_for
from ui.core import database, workspace
from ui.core.session import KEY
from ui.train import settings


def _with_default(name: str, value) -> tuple:
    return tuple(dataclasses.replace(r, default=value) if r.name == name else r for r in settings.TABLE)


@pytest.mark.parametrize("name, value, widget", [("weight_decay", 0.25, "number_input"), ("flip", True, "checkbox")])
def test_a_default_changed_in_the_table_reaches_the_page_the_workspace_and_the_engine(monkeypatch, name, value,
                                                                                       widget):
    assert getattr(TrainConfig(), name) != value  # not the engine's own default
    monkeypatch.setattr(settings, "TABLE", _with_default(name, value))
    spec = engine.network.presets.get("toy-mlp")
    store, flusher = database.services()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params[workspace.PARAM] = store.create(None, spec=spec.to_dict(), settings=None)
    at.run()
    assert not at.exception
    try:
        assert getattr(at, widget)(key=settings.key(name)).value == value  # the page
        session = at.session_state[KEY]
        assert session.settings["train"][name] == value
        at.run()  # the settings are queued for saving at the start of a run
        assert flusher.flush(30)
        assert store.open(session.token).settings["train"][name] == value  # the saved workspace
        at.number_input(key=settings.key("epochs")).set_value(1).run()
        at.button(key="tr-start").click().run()
        trainer = wait_for(at, ("finished",))
        assert getattr(trainer.config, name) == value  # the engine's config of the run
    finally:
        for run in runs(at):
            run.trainer.stop()


def test_the_table_names_every_saved_setting_once():
    """Each widget key once, each field of ``TrainConfig`` a page saves in the table (or the dataset's own)."""
    keys = [r.key for r in settings.TABLE]
    assert len(keys) == len(set(keys))
    named = {r.name for r in settings.TABLE} | {"dataset", "dataset_options"}
    engine_only = {"device", "metrics_every", "max_seconds", "heartbeat_timeout"}  # not the student's to set
    assert named | engine_only == set(TrainConfig().to_dict())
    widgets = settings.widget_state(TrainConfig(optimizer="sgd", lr=0.5).to_dict())
    assert widgets[settings.lr_key("sgd")] == 0.5 and settings.lr_key("adam") not in widgets
