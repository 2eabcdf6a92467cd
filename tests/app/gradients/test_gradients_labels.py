"""The Gradients page names each layer one way in its norms chart, activation histograms and table (issue 18)."""
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "5_Gradients.py")


def _chart(at: AppTest, key: str) -> dict:
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}"))


def _activation_table(at: AppTest):
    """The depth lab's activation table (AppTest gives dataframes no key: found by its columns)."""
    return next(d.value for d in at.dataframe if {"layer", "saturated %"} <= set(d.value.columns))


def test_depth_lab_chart_histograms_and_table_share_the_layer_names():
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    assert not at.exception
    norms = _chart(at, "depth-norms-chart")
    trace = norms["data"][0]
    chart_names = [t.split(" · ")[0] for t in trace["text"]]  # the hover: "layer 3 · 5 Linear"
    assert chart_names == [f"layer {k}" for k in range(1, 12)]  # 10 hidden layers + the output layer
    assert norms["layout"]["xaxis"]["title"]["text"] == "layer (input → output)"
    table = list(_activation_table(at)["layer"])
    assert table == [f"layer {k} · Sigmoid" for k in range(1, 11)]  # not "2 Sigmoid … 20 Sigmoid"
    assert _chart(at, "depth-activations-chart")["data"][0]["y"] == table
    axis = norms["layout"]["yaxis"]
    assert axis["type"] == "log" and axis["exponentformat"] in ("power", "e")
    assert axis["dtick"] == 5 and axis["range"] == [-20, 0]  # 19 decades: every 5th labelled, not 19 crowded labels
