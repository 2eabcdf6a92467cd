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


# --- readable on a projector (issue 18) ----------------------------------------------------------------------

def _with_epoch_means(n):
    records = _records(n)
    for r in records:
        if r["kind"] == "epoch":
            r.update(train_loss=0.6, train_acc=0.7)
    return records


def test_train_validation_and_epoch_mean_each_have_their_palette_colour_and_dash():
    from engine import palette

    fig = train_figures.curves_figure({"run": _with_epoch_means(40)}, "loss", epoch_mean=True)
    roles = {"train": "train", "validation": "validation", "train (epoch mean)": "train epoch mean"}
    assert sorted(t.name for t in fig.data) == sorted(roles)
    for trace in fig.data:
        style = palette.SERIES[roles[trace.name]]
        assert (trace.line.color, trace.line.dash) == (style["color"], style["dash"])
    assert len({t.line.color for t in fig.data}) == 3 and len({t.line.dash for t in fig.data}) == 3


def test_several_runs_keep_a_colour_per_run_and_a_dash_per_role():
    from engine import palette

    fig = train_figures.curves_figure({"a": _with_epoch_means(20), "b": _with_epoch_means(20)}, "acc",
                                      epoch_mean=True)
    by_run = {}
    for trace in fig.data:
        run, role = trace.name.split(" · ")
        by_run.setdefault(run, []).append((role, trace.line.color, trace.line.dash))
    assert {c for _, c, _ in by_run["a"]} == {palette.CYCLE[0]} and {c for _, c, _ in by_run["b"]} == {palette.CYCLE[1]}
    assert len({d for _, _, d in by_run["a"]}) == 3


def test_gradient_norms_have_a_powers_of_ten_log_axis():
    fig = train_figures.grad_norms_figure(_records(30))
    axis = fig.layout.yaxis
    assert axis.type == "log" and axis.dtick in (1, 2, 5, 10) and axis.exponentformat in ("power", "e")
    assert axis.minor.dtick in ("D1", 1)


def test_misclassified_titles_are_large_dark_and_above_their_image():
    images = np.random.rand(10, 28, 28)
    titles = [f"{i} → {(i + 1) % 10}" for i in range(10)]
    fig = train_figures.samples_figure(images, titles)
    notes = fig.layout.annotations
    assert [a.text for a in notes] == titles
    for note in notes:
        assert note.font.size >= 14 and note.font.color in ("#000000", "#222222", "black")
    z = np.asarray(fig.data[0].z, dtype=float)
    for note in notes:  # the title sits in an empty band, not over the image's pixels
        row = int(round(note.y))
        assert not np.isfinite(z[max(row, 0), :]).any()
    assert "true → predicted" in fig.layout.title.text


def test_class_curves_take_the_palette():
    from engine import palette

    students = {"k1": ("ann", [("run 1", {"epoch": [1, 2], "val_loss": [1.0, 0.5]})]),
                "k2": ("bob", [("run 1", {"epoch": [1, 2], "val_loss": [0.9, 0.4]})])}
    fig = train_figures.class_curves_figure(students)
    assert [t.line.color for t in fig.data] == palette.CYCLE[:2]


def test_zero_gradient_norms_do_not_stretch_the_log_axis():
    """A layer with no gradient at some step (0, drawn at 1e-12) leaves the axis on the real curves' decades."""
    records = [{"kind": "step", "epoch": i / 4, "grad_norm": {"0 Linear": 0.5 / (i + 1), "2 Linear": 0.0 if i else 0.02}}
               for i in range(4)]
    lo, hi = train_figures.grad_norms_figure(records).layout.yaxis.range
    assert lo >= -2 and hi <= 0  # 0.02 … 0.5: not down to 1e-12
    only_zeros = [{"kind": "step", "epoch": 0.0, "grad_norm": {"0 Linear": 0.0}}]
    assert train_figures.grad_norms_figure(only_zeros).layout.yaxis.type == "log"  # nothing positive: no error


def test_class_curves_are_thinned_before_they_are_drawn():
    """Curves reach the chart thinned by the store; the figure thins whatever else it is given the same way."""
    n = 10_000
    epochs = list(range(1, n + 1))
    students = {"k1": ("ann", [("run 1", {"epoch": epochs, "val_loss": [1 / e for e in epochs]})])}
    fig = train_figures.class_curves_figure(students)
    (trace,) = fig.data
    assert len(trace.x) <= train_figures.MAX_POINTS and trace.x[0] == 1 and trace.x[-1] == n
    assert len(trace.y) == len(trace.x) and trace.y[-1] == 1 / n
