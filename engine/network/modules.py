"""The few layers the playground adds to torch.nn: Maxout, Residual and a batch-first recurrent wrapper."""
from __future__ import annotations

import torch
from torch import nn


class Maxout(nn.Module):
    """Maxout activation: the max over each group of `pieces` consecutive channels (dim 1).

    A Linear layer with ``n * pieces`` outputs followed by ``Maxout(pieces)`` gives ``n`` maxout
    units ``max(w1·x + b1, ..., wk·x + bk)``.
    """

    def __init__(self, pieces: int = 2):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[0], x.shape[1]
        # (N, C*k, ...) -> (N, C, k, ...) -> max over k
        return x.reshape(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class Residual(nn.Module):
    """``body(x) + shortcut(x)``: an identity shortcut, or a 1×1 projection when the shapes differ."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


_CELLS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


class Recurrent(nn.Module):
    """An RNN, LSTM or GRU over ``(N, T, F)`` batches returning the whole sequence, the last state or the mean.

    The torch layer is kept as ``self.rnn`` (batch_first) so tools can unroll it with the same weights.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, output: str = "sequence",
                 nonlinearity: str = "tanh"):
        super().__init__()
        extra = {"nonlinearity": nonlinearity} if cell == "RNN" else {}
        self.cell = cell
        self.output = output
        self.rnn = _CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                bidirectional=bidirectional, dropout=dropout, **extra)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (N, T, D*H)
        if self.output == "sequence":
            return out
        if self.output == "mean":
            return out.mean(dim=1)
        if self.rnn.bidirectional:
            # The backward direction's final state sits at t = 0.
            h = self.rnn.hidden_size
            return torch.cat([out[:, -1, :h], out[:, 0, h:]], dim=1)
        return out[:, -1]

    def extra_repr(self) -> str:
        return f"output={self.output!r}"
