"""Training figures: bounded size however long the run, and data drawn where it belongs."""
import numpy as np

from engine.training import figures as train_figures


def _records(n):
    out = []
    for i in range(n):
        out.append({"kind": "step", "epoch": i / 10, "train_loss": 1 / (i + 1), "train_acc": i / n,
                    "grad_norm": {"0 Linear": 0.1, "2 Linear": 0.01}})
        if i % 10 == 9:
            out.append({"kind": "epoch", "epoch": (i + 1) // 10, "val_loss": 0.5, "val_acc": 0.8})
    return out


def test_thin_keeps_the_latest_and_bounds_the_points():
    records = _records(5000)
    thinned = train_figures.thin(records, 250)
    assert len(thinned) == 250 and thinned[-1] is records[-1] and thinned[0] is records[0]
    assert train_figures.thin(records[:10], 250) == records[:10]


def test_curves_and_gradients_stay_small_for_long_runs():
    records = _records(5000)
    loss = train_figures.curves_figure({"run": records}, "loss")
    train, val = loss.data
    assert len(train.x) <= train_figures.MAX_POINTS and train.y[-1] == records[-2]["train_loss"]
    assert len(val.x) == 500  # every epoch is kept
    grads = train_figures.grad_norms_figure(records)
    assert [t.name for t in grads.data] == ["0 Linear", "2 Linear"] and grads.layout.yaxis.type == "log"


def test_boundary_colours_each_class_and_plots_every_point():
    xs = ys = np.linspace(-1, 1, 5, dtype=np.float32)
    probs = np.zeros((5, 5, 3), dtype=np.float32)
    probs[..., 0] = 1
    x = np.array([[0, 0], [0.5, 0.5], [-0.5, 0.2]], dtype=np.float32)
    y = np.array([0, 1, 2])
    fig = train_figures.boundary_figure({"xs": xs, "ys": ys, "probs": probs}, x, y, ["a", "b", "c"])
    assert [t.name for t in fig.data[1:]] == ["a", "b", "c"]
    assert sum(len(t.x) for t in fig.data[1:]) == 3


def test_confusion_matrix_is_drawn_with_counts():
    confusion = np.array([[5, 1], [2, 7]])
    fig = train_figures.confusion_figure(confusion, ["X", "O"])
    assert fig.data[0].z.tolist() == confusion.tolist() and list(fig.data[0].x) == ["X", "O"]
