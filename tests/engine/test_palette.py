"""The shared palette: Okabe–Ito colours, a distinct colour and dash per series role, powers-of-ten log axes."""
from engine import palette


def test_each_series_role_has_its_own_colour_and_dash():
    roles = ["train", "validation", "train epoch mean", "test"]
    assert len({palette.SERIES[r]["color"] for r in roles}) == 4
    assert len({palette.SERIES[r]["dash"] for r in roles}) == 4
    assert all(palette.SERIES[r]["color"] in palette.OKABE_ITO.values() for r in roles)


def test_log_axis_labels_powers_of_ten_and_leaves_minor_ticks_unlabelled():
    axis = palette.log_axis()
    assert axis["type"] == "log" and axis["dtick"] == 1 and axis["exponentformat"] in ("power", "e")
    assert axis["minor"]["dtick"] == "D1" and "showticklabels" not in axis["minor"]  # plotly never labels minors


def test_many_decades_label_every_few_decades_with_minor_ticks_at_each():
    axis = palette.log_axis([1e-19, 1.0])
    assert axis["range"] == [-20, 0] and axis["dtick"] in (2, 5, 10) and 20 / axis["dtick"] <= 8  # ends labelled
    assert axis["minor"]["dtick"] == 1  # every decade still ticked, unlabelled
    assert palette.log_axis([1e-3, 1.0])["dtick"] == 1


def test_log_axis_range_spans_whole_decades():
    assert palette.log_axis([0.3, 0.8])["range"] == [-1, 0]  # inside one decade: still two labelled ticks
    assert palette.log_axis([[2e-5, 0], [3.0, float("nan")]])["range"] == [-5, 1]
    assert "range" not in palette.log_axis([0, float("nan")])
