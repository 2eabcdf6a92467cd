"""The training records' diagnostics as series a page draws: histogram heat maps (thinned), one step's histograms,
mean and spread per layer, update ratios, unit health and its warnings. Records lacking these keys (older runs)
give empty series."""
from __future__ import annotations

import numpy as np

from engine import stats
from engine.training import figures as train_figures

MAX_COLUMNS = 250  # heat-map columns drawn at most: older ones are thinned, as the loss curve's points are
DEAD_WARN, SATURATED_WARN = 0.5, 0.5  # unit shares past which the Train page warns
QUANTITIES = {"act": "activations", "grad": "weight gradients", "weight": "weights"}
RULE_OF_THUMB = 1e-3  # update-to-weight ratio usually about this (Karpathy, CS231n)


def hist_records(records: list[dict]) -> list[dict]:
    """The step records that carry histograms, in order."""
    return [r for r in records if r.get("kind") == "step" and isinstance(r.get("hist"), dict) and r["hist"]]


def layers(records: list[dict], quantity: str | None = None) -> list[str]:
    """The layers with histograms (of ``quantity`` when given), in module order as first recorded."""
    found: dict[str, None] = {}
    for r in hist_records(records):
        for layer, values in r["hist"].items():
            if quantity is None or quantity in values:
                found.setdefault(layer)
    return list(found)


def steps(records: list[dict]) -> list[int]:
    """The steps with histograms (the values a step slider offers)."""
    return [int(r["step"]) for r in hist_records(records)]


def heatmap(records: list[dict], layer: str, quantity: str = "act", max_columns: int = MAX_COLUMNS) -> dict | None:
    """One layer's histograms over training: {"steps" (C,), "edges" (B+1,), "counts" (C, B) int array, "mean",
    "std" (C,)}; at most ``max_columns`` columns, old ones thinned, the latest kept. Only records binned on the
    latest record's edges are used (a resumed run starts new edges). None when there are none."""
    rows = [r for r in hist_records(records) if quantity in r["hist"].get(layer, {})]
    if not rows:
        return None
    spec = rows[-1]["hist"][layer][quantity]["edges"]
    rows = train_figures.thin([r for r in rows if r["hist"][layer][quantity]["edges"] == spec], max_columns)
    cells = [r["hist"][layer][quantity] for r in rows]
    return {"steps": np.array([r["step"] for r in rows]), "edges": stats.edges(spec),
            "counts": np.array([c["counts"] for c in cells], dtype=np.int64),
            "mean": np.array([c["mean"] for c in cells]), "std": np.array([c["std"] for c in cells])}


def at_step(records: list[dict], step: int, quantity: str = "act") -> tuple[int, dict] | None:
    """Every layer's histogram of ``quantity`` at the last histogram record at or before ``step`` (else the first):
    (its step, {layer: {"edges", "counts", "mean", "std"}}); None without histograms."""
    rows = hist_records(records)
    if not rows:
        return None
    before = [r for r in rows if r["step"] <= step]
    row = before[-1] if before else rows[0]
    return int(row["step"]), {layer: {"edges": stats.edges(v[quantity]["edges"]),
                                      "counts": np.array(v[quantity]["counts"]), "mean": v[quantity]["mean"],
                                      "std": v[quantity]["std"]}
                              for layer, v in row["hist"].items() if quantity in v}


def moments(records: list[dict], quantity: str = "act", max_points: int = MAX_COLUMNS) -> dict[str, dict]:
    """Mean and standard deviation per layer over training: {layer: {"steps", "mean", "std"}}."""
    rows = train_figures.thin(hist_records(records), max_points)
    out: dict[str, dict] = {}
    for r in rows:
        for layer, values in r["hist"].items():
            if quantity in values:
                s = out.setdefault(layer, {"steps": [], "mean": [], "std": []})
                s["steps"].append(r["step"])
                s["mean"].append(values[quantity]["mean"])
                s["std"].append(values[quantity]["std"])
    return out


def update_ratios(records: list[dict], max_points: int = MAX_COLUMNS) -> dict[str, dict]:
    """‖Δw‖/‖w‖ per layer over training: {layer: {"steps", "ratio"}} (None where a ratio was not finite)."""
    rows = train_figures.thin([r for r in records if r.get("kind") == "step" and isinstance(r.get("update_ratio"),
                                                                                             dict)], max_points)
    out: dict[str, dict] = {}
    for r in rows:
        for layer, ratio in r["update_ratio"].items():
            s = out.setdefault(layer, {"steps": [], "ratio": []})
            s["steps"].append(r["step"])
            s["ratio"].append(ratio)
    return out


def health(records: list[dict]) -> dict[str, dict]:
    """Unit health over training: {layer name: {"steps", "dead", "saturated", "kind"}}."""
    out: dict[str, dict] = {}
    for r in records:
        if r.get("kind") != "step" or not isinstance(r.get("health"), list):
            continue
        for h in r["health"]:
            s = out.setdefault(h["name"], {"steps": [], "dead": [], "saturated": [], "kind": h["kind"]})
            s["steps"].append(r["step"])
            s["dead"].append(h["dead"])
            s["saturated"].append(h["saturated"])
    return out


_HELP = {"dead": "a lower learning rate, He initialisation, Leaky ReLU or batch norm usually helps",
         "saturated": "Xavier initialisation (or He for ReLU), a lower learning rate, batch norm, or ReLU instead "
                      "usually helps"}
_FORMULA = {"dead": "dead = share of units u with a_u(x) = 0 for every probe sample x",
            "saturated": "saturated = share of units u with |a_u(x)| within 1% of a bound (|tanh| ≥ 0.99; sigmoid "
                         "≤ 0.01 or ≥ 0.99) for at least 95% of the probe samples"}


def warnings(records: list[dict], dead: float = DEAD_WARN, saturated: float = SATURATED_WARN) -> list[dict]:
    """Plain-language warnings for layers whose latest dead or saturated share passes its threshold.

    Returns:
        [{"layer", "what" ("dead"/"saturated"), "share", "since" (the first step of the current streak above the
        threshold), "text", "formula"}]; layer names are the user's network's labels (show them as text).
    """
    out = []
    for name, s in health(records).items():
        for what, bar in (("dead", dead), ("saturated", saturated)):
            values = s[what]
            if not values or values[-1] is None or values[-1] <= bar:
                continue
            k = len(values) - 1
            while k > 0 and values[k - 1] is not None and values[k - 1] > bar:
                k -= 1
            share, since = values[-1], s["steps"][k]
            out.append({"layer": name, "what": what, "share": share, "since": since, "formula": _FORMULA[what],
                        "text": f"{share:.0%} of the units of layer {name} are {what} (since step {since}): they "
                                f"pass no gradient, so they stop learning; {_HELP[what]}."})
    return out
