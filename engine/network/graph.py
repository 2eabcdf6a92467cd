"""A Plotly drawing of a network: a block per layer, its height hinting at the tensor it makes, shapes on the edges."""
from __future__ import annotations

import math

import plotly.graph_objects as go

from engine.network.build import Summary
from engine.network.layers import TYPES, fmt_shape

_COLOURS = {"Dense": "#4C78A8", "Convolution": "#F58518", "Pooling": "#54A24B", "Normalisation": "#B279A2",
            "Regularisation": "#9D755D", "Structure": "#BAB0AC", "Activation": "#E45756", "Recurrent": "#72B7B2",
            "Input": "#333333"}
# Rotated tick labels longer than ~10 characters make Plotly drop every name: short ones, full name on hover.
_SHORT = {"AdaptiveAvgPool2d": "AdaptPool", "ConvTranspose2d": "ConvT2d", "BatchNorm1d": "BN1d",
          "BatchNorm2d": "BN2d", "LeakyReLU": "LeakyReLU", "MaxPool1d": "MaxPool1d", "MaxPool2d": "MaxPool",
          "AvgPool1d": "AvgPool1d", "AvgPool2d": "AvgPool", "Embedding": "Embed"}
_CROWDED = 20  # above this many blocks, shapes are written only on edges where the shape changes


def short_label(ltype: str) -> str:
    """The name drawn under a block: at most 10 characters."""
    return _SHORT.get(ltype, ltype)[:10]


def network_figure(summary: Summary, error_at: str | None = None) -> go.Figure:
    """Draw the summary's layers left to right, residual shortcuts as arcs over their blocks.

    Args:
        summary: from ``engine.summarize`` (or the partial rows of a SpecError wrapped in a Summary).
        error_at: dotted path of a failing layer, drawn as a red block at the end.

    Returns:
        A Plotly figure (about 260 px high).
    """
    blocks = [("input", "Input", summary.input_shape, 0)]
    arcs = []  # (first block index, last block index) of each residual block
    for row in summary.rows:
        if row.type == "Residual":
            arcs.append([row.index, len(blocks), None])
            continue
        if row.index.endswith(".shortcut"):
            continue
        blocks.append((row.index, row.type, row.output_shape, row.depth))
        for arc in arcs:
            if row.index.startswith(arc[0] + "."):
                arc[2] = len(blocks) - 1
    sizes = [math.prod(b[2]) for b in blocks]
    biggest = max(math.log10(s + 1) for s in sizes) or 1.0
    # Shapes and notes are collected and set once: add_shape/add_annotation re-validate every earlier one,
    # which made a 300-layer drawing take 17 s.
    shapes, notes = [], []
    xs, ys, hovers = [], [], []
    for i, (path, ltype, shape, depth) in enumerate(blocks):
        height = 0.25 + 0.75 * math.log10(sizes[i] + 1) / biggest  # log scale: VGG's 3M and 1k both visible
        colour = _COLOURS.get(TYPES[ltype].category if ltype in TYPES else "Input", "#888")
        shapes.append(dict(type="rect", x0=i - 0.35, x1=i + 0.35, y0=-height / 2, y1=height / 2,
                           fillcolor=colour, opacity=0.85, line=dict(width=1, color="#222")))
        xs.append(i)
        ys.append(0)
        hovers.append(f"{path} {ltype}<br>output {fmt_shape(shape)}")
    # The edge into block i carries block i−1's output; on a crowded drawing only where it changes, and
    # where it has room on one of two rows (about 90 characters fit across the figure in the page).
    crowded = len(blocks) > _CROWDED
    last_on_row = [(-math.inf, 0), (-math.inf, 0)]  # (x, characters) of the last label on each row
    for i in range(1, len(blocks) + 1):
        text = fmt_shape(blocks[i - 1][2])
        if crowded and 1 < i < len(blocks) and blocks[i - 1][2] == blocks[i - 2][2]:
            continue
        fits = [r for r in (len(notes) % 2, 1 - len(notes) % 2)
                if i - 0.5 - last_on_row[r][0] >= (last_on_row[r][1] + len(text)) / 2 * len(blocks) / 90]
        if not fits and crowded and i < len(blocks):
            continue
        row = fits[0] if fits else len(notes) % 2
        last_on_row[row] = (i - 0.5, len(text))
        notes.append(dict(x=i - 0.5, y=(-0.62, -0.78)[row], text=text, showarrow=False,
                          font=dict(size=9, color="#444")))
    for _, first, last in arcs:
        if last is None:
            continue
        start, end = first - 1 + 0.35, last + 0.35  # from the block's input to its output
        shapes.append(dict(type="path", path=f"M {start},0.55 C {start},1.1 {end},1.1 {end},0.55",
                           line=dict(color="#555", width=2, dash="dot")))
    if error_at is not None:
        i = len(blocks)
        shapes.append(dict(type="rect", x0=i - 0.35, x1=i + 0.35, y0=-0.3, y1=0.3, fillcolor="#d62728",
                           line=dict(width=2, color="#800")))
        xs.append(i)
        ys.append(0)
        hovers.append(f"layer {error_at}: invalid")
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="markers", marker=dict(size=18, opacity=0),
                               hovertext=hovers, hoverinfo="text", showlegend=False),
                    layout=dict(shapes=shapes, annotations=notes))
    # Layer names as rotated axis labels: text inside narrow blocks is unreadable.
    # A fixed bottom margin: with Plotly's automatic one, one long name made it drop every name.
    fig.update_xaxes(tickvals=xs, ticktext=[short_label(b[1]) for b in blocks] + (["error"] if error_at else []),
                     tickangle=-45, showticklabels=True, showgrid=False, zeroline=False, tickfont=dict(size=10),
                     automargin=False)
    fig.update_yaxes(visible=False, range=[-0.95, 1.15])
    fig.update_layout(height=340, margin=dict(l=30, r=10, t=10, b=70),
                      plot_bgcolor="white", xaxis_range=[-0.7, len(xs) + 0.1], dragmode=False)
    return fig
