"""Presenter mode (?present=1): every page renders with it, its toggle shows it, page links and the session keep it,
secondary controls are folded away and charts are drawn larger; turning it off restores the page."""
import json
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from ui.core import present

ROOT = Path(__file__).resolve().parents[3]
VIEWS = sorted(str(p) for p in (ROOT / "views").glob("[0-9]_*.py"))
ON = {present.PARAM: "1"}


def _open(view: str, **query) -> AppTest:
    at = AppTest.from_file(view, default_timeout=120)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def _toggle(at: AppTest):
    return at.toggle(key=present.TOGGLE)


def _expanders(at: AppTest) -> dict[str, bool]:
    return {e.label: e.proto.expanded for e in at.expander}


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


@pytest.mark.parametrize("view", VIEWS, ids=[Path(v).stem for v in VIEWS])
def test_every_page_renders_in_presenter_mode_with_its_toggle_on(view):
    at = _open(view, **ON)
    assert _toggle(at).value is True
    assert at.query_params[present.PARAM] in ("1", ["1"])
    assert at.button(key=present.LEAVE).label == "Leave presenter mode"
    assert all(not expanded for label, expanded in _expanders(at).items() if not label.startswith("Input →")), \
        _expanders(at)  # Inspect's input view is the page's content, not a control


def test_without_the_parameter_the_page_is_as_before():
    at = _open(VIEWS[1])  # Build
    assert _toggle(at).value is False
    assert present.PARAM not in at.query_params
    assert not [b for b in at.button if b.key == present.LEAVE]
    assert "Export, import and share" in [h.value for h in at.subheader]
    assert "Export, import and share" not in _expanders(at)


def test_build_folds_its_export_panel_and_draws_its_graph_larger():
    normal, shown = _open(VIEWS[1]), _open(VIEWS[1], **ON)
    assert _expanders(shown)["Export, import and share"] is False
    assert "Export, import and share" not in [h.value for h in shown.subheader]
    (before,), (after,) = _figures(normal), _figures(shown)
    default = before["layout"].get("font", {}).get("size", present.PLOTLY_FONT)
    assert after["layout"]["font"]["size"] == pytest.approx(default * present.FONT_SCALE, abs=0.1)
    sizes = [[a["font"]["size"] for a in f["layout"]["annotations"] if "size" in a.get("font", {})]
             for f in (before, after)]
    assert sizes[0] and sizes[1] == pytest.approx([x * present.FONT_SCALE for x in sizes[0]], abs=0.1)
    assert after["layout"]["height"] > before["layout"].get("height", 450)


def test_train_folds_its_settings_even_before_the_first_run():
    assert _expanders(_open(VIEWS[3]))["Data and training settings"] is True
    assert _expanders(_open(VIEWS[3], **ON))["Data and training settings"] is False


def test_gradients_folds_its_settings_and_its_chart_is_larger():
    normal, shown = _open(VIEWS[5]), _open(VIEWS[5], **ON)
    assert "Settings: network, activation, initialisation" not in _expanders(normal)
    assert _expanders(shown)["Settings: network, activation, initialisation"] is False
    assert shown.slider(key="depth-depth").value == normal.slider(key="depth-depth").value  # the controls stay
    pairs = list(zip(_figures(normal), _figures(shown), strict=True))
    assert pairs
    for before, after in pairs:  # the same charts in the same order, each one's axis text larger
        tick = before["layout"]["yaxis"]["tickfont"]["size"]
        assert after["layout"]["yaxis"]["tickfont"]["size"] == pytest.approx(tick * present.FONT_SCALE)
        assert after["layout"]["height"] > before["layout"].get("height", 450)


def test_the_session_keeps_it_when_a_page_opens_without_the_parameter():
    at = _open(VIEWS[1], **ON)
    del at.query_params[present.PARAM]  # what the sidebar's navigation and st.switch_page do to the address
    at.run()
    assert at.query_params[present.PARAM] in ("1", ["1"]) and _toggle(at).value is True


def test_the_page_link_carries_it():
    # AppTest runs a page on its own, where page_link falls back to a plain markdown link with the same address.
    shown = _open(VIEWS[3], **ON)
    assert any("(./Build?present=1)" in m.value for m in shown.markdown)
    normal = _open(VIEWS[3])
    assert any("(./Build)" in m.value for m in normal.markdown)


def test_the_toggle_and_the_leave_button_turn_it_off_and_on():
    at = _open(VIEWS[3], **ON)
    _toggle(at).set_value(False).run()
    assert not at.exception
    assert present.PARAM not in at.query_params and _toggle(at).value is False
    assert _expanders(at)["Data and training settings"] is True
    at.run()  # stays off without the parameter
    assert _toggle(at).value is False
    _toggle(at).set_value(True).run()
    assert at.query_params[present.PARAM] in ("1", ["1"])
    at.button(key=present.LEAVE).click().run()
    assert present.PARAM not in at.query_params and _toggle(at).value is False
    assert not [b for b in at.button if b.key == present.LEAVE]


def test_an_explicit_zero_turns_it_off():
    at = _open(VIEWS[1], **ON)
    at.query_params[present.PARAM] = "0"
    at.run()
    assert _toggle(at).value is False


# A lesson step drawn the way the Lessons page draws one: its explanation, then its chart.
BESIDE = """
from ui.core import present
text, chart = present.beside()
text.markdown("explanation")
chart.markdown("chart")
"""


ROW = """
from ui.core import present
for column, word in zip(present.columns([3, 2]), ("chart", "table")):
    column.markdown(word)
"""


def test_columns_stack_in_presenter_mode_only():
    shown = AppTest.from_string(ROW, default_timeout=30)
    shown.query_params.update(ON)
    shown.run()
    assert not shown.columns and [m.value for m in shown.markdown] == ["chart", "table"]
    normal = AppTest.from_string(ROW, default_timeout=30)
    normal.run()
    assert [c.markdown[0].value for c in normal.columns] == ["chart", "table"]


def test_beside_puts_the_explanation_next_to_its_chart_only_in_presenter_mode():
    shown = AppTest.from_string(BESIDE, default_timeout=30)
    shown.query_params.update(ON)
    shown.run()
    assert len(shown.columns) == 2 and shown.columns[0].markdown[0].value == "explanation"
    normal = AppTest.from_string(BESIDE, default_timeout=30)
    normal.run()
    assert not normal.columns and [m.value for m in normal.markdown] == ["explanation", "chart"]


def test_scaled_grows_every_layout_text_and_the_height_not_a_fixed_width_figure():
    base = go.Figure(go.Scatter(x=[0, 1], y=[1, 0], text=["a", "b"], textfont=dict(size=10)),
                     layout=dict(title=dict(text="t", font=dict(size=20)), xaxis=dict(tickfont=dict(size=14)),
                                 annotations=[dict(text="n", font=dict(size=11))], height=300,
                                 margin=dict(l=40, t=20)))
    big = present.scaled(base, font=2, height=1.5).to_dict()
    assert big["layout"]["title"]["font"]["size"] == 40 and big["layout"]["xaxis"]["tickfont"]["size"] == 28
    assert big["layout"]["annotations"][0]["font"]["size"] == 22 and big["layout"]["font"]["size"] == 24
    assert big["layout"]["height"] == 450 and big["layout"]["margin"] == {"l": 60, "t": 30}
    assert big["data"][0]["textfont"]["size"] == 10  # a trace's text keeps fitting its cell
    assert base.layout.title.font.size == 20  # the original is left alone (engine figures may be cached)
    fixed = present.scaled(go.Figure(layout=dict(width=500, height=300)), font=2).to_dict()
    assert (fixed["layout"]["width"], fixed["layout"]["height"]) == (500, 300)
