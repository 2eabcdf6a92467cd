"""One run's model, optimiser and data on one device, stepped one batch at a time (no threads here)."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from .. import data as data_mod
from .. import device as device_mod
from ..build import build
from ..errors import InputError
from ..gradients import display_path
from ..init import init_weights
from ..spec import ModelSpec
from .augment import augment
from .config import TrainConfig, compute_loss, make_optimizer, penalised, resolve_loss
from .inference import batched_loss
from .sequence import detach_state, forward_with_state, stateful_problem

DIVERGED_HINT = "Lower the learning rate (try a tenth) or turn on gradient-norm clipping."


def pick_device(name: str) -> torch.device:
    """The configured device: "auto" is ``engine.device.pick()``; a missing one raises InputError."""
    if name == "auto":
        device = device_mod.pick()
    else:
        device = torch.device(name)
        if name == "cuda" and not torch.cuda.is_available():
            raise InputError("no CUDA GPU on this server; use device 'auto' or 'cpu'")
        if name == "mps" and not torch.backends.mps.is_available():
            raise InputError("no Apple MPS device on this server; use device 'auto' or 'cpu'")
    if device.type == "cpu":
        device_mod.configure_threads()
    return device


class Loop:
    """Trains ``spec`` on a dataset under ``config``, one ``train_batch()`` at a time.

    Metrics stay on the device and are read back once every ``config.metrics_every`` steps and at the
    end of each epoch (one synchronisation each); the records those reads produce are returned.
    ``outcome`` becomes ``(state, message)`` when the run is over: "finished" or "diverged".
    """

    def __init__(self, spec: ModelSpec, config: TrainConfig, dataset: data_mod.Dataset | None = None):
        self.config = cfg = config.check()
        self.dataset = dataset if dataset is not None else data_mod.load(cfg.dataset, cfg.seed,
                                                                         **cfg.dataset_options)
        for split, what in (("train", "training"), ("val", "validation")):
            if len(self.dataset.split(split)[0]) == 0:
                raise InputError(f"the {what} split of {self.dataset.name} is empty; use a larger dataset "
                                 f"(more samples) so that every split gets some")
        self.spec, self.notes = data_mod.adapt_spec(spec, self.dataset)
        self.task = self.dataset.task
        self.loss_name = resolve_loss(cfg.loss, self.task)
        self.device = pick_device(cfg.device)
        self.model = build(self.spec, seed=cfg.seed)
        if cfg.init != "default":
            init_weights(self.model, cfg.init, seed=cfg.seed)
        self.model.to(self.device)
        self.optimizer = make_optimizer(self.model, cfg)
        self.x_train, self.y_train = (t.to(self.device) for t in self.dataset.split("train"))
        self.x_val, self.y_val = (t.to(self.device) for t in self.dataset.split("val"))
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.images = self.dataset.input_kind == "image"
        self.bptt = self._check_bptt()

        self.batches_per_epoch = math.ceil(len(self.x_train) / cfg.batch_size)
        self.total_steps = cfg.epochs * self.batches_per_epoch
        self.step = 0  # batches done
        self.epoch = 0  # epochs done
        self.elapsed = 0.0  # seconds spent training and validating
        self.outcome: tuple[str, str] | None = None
        self._pos, self._perm = 0, None

        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self._weights = penalised(self.model)
        names = [n for n, p in self.model.named_parameters() if p.requires_grad]
        layers = list(dict.fromkeys(display_path(n.rpartition(".")[0]) for n in names))
        owners = {display_path(n.rpartition(".")[0]): type(self.model.get_submodule(n.rpartition(".")[0])).__name__
                  for n in names}
        self.layer_names = [f"{k} {owners[k]}" for k in layers]
        # which layer each parameter belongs to, for summing squared norms per layer on the device
        self._layer_of = torch.tensor([layers.index(display_path(n.rpartition(".")[0])) for n in names],
                                      device=self.device)

        # (mean loss, loss terms, detached output, target) of each step since the last record: summed at the
        # record, so a step adds no tensor arithmetic of its own (it showed on small, fast models).
        self._pending: list[tuple] = []
        self._seen = 0  # samples (tokens for "char") since the last record, known without synchronising
        self._window_start, self._window_samples = 0.0, 0
        self._epoch_loss, self._epoch_correct, self._epoch_seen = 0.0, 0.0, 0
        # Last weights known to give a finite loss, restored when the run diverges.
        self._state = [t for t in self.model.state_dict().values()]
        self._good = [t.detach().clone() for t in self._state]
        self._good_step = 0
        self.best: dict | None = None  # early stopping: {"val_loss", "epoch", "state", "bad_epochs"}

    def _check_bptt(self) -> int:
        """Chunk length for truncated BPTT (0 = off); only character models with whole-sequence outputs."""
        k = self.config.bptt
        if not k or self.task != "char" or k >= self.dataset.input_shape[0]:
            return 0
        problem = stateful_problem(self.model)
        if problem:
            raise InputError(f"truncated BPTT runs character models layer by layer, but {problem}; set bptt to 0")
        return k

    # ---------------------------------------------------------------- one batch
    def train_batch(self, force_metrics: bool = False) -> list[dict]:
        """Train on the next batch; returns the metric records this step produced (often none).

        Args:
            force_metrics: read the metrics back after this step even if it is not a record step.
        """
        if self.outcome:
            return []
        t0 = time.perf_counter()
        cfg, n = self.config, len(self.x_train)
        if self._pos == 0:
            self._perm = torch.randperm(n, generator=self.generator).to(self.device)
            self._epoch_loss, self._epoch_correct, self._epoch_seen = 0.0, 0.0, 0
        idx = self._perm[self._pos:self._pos + cfg.batch_size]
        self._pos += cfg.batch_size
        epoch_end = self._pos >= n
        x, y = self.x_train[idx], self.y_train[idx]
        mix = None
        if self.images and cfg.augments:
            x, mix = augment(x, cfg, self.generator, self.rng)

        if not self.model.training:  # train() walks every module: only when evaluation switched it off
            self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        out, loss = self._forward_backward(x, y, mix)
        count = y.numel() if self.task == "char" else len(x)  # loss terms: tokens for "char", else samples
        self._pending.append((loss, count, out if self.task != "regression" else None, y))
        self._seen += count
        self._window_samples += len(x)
        if cfg.l1:  # the subgradient of λ‖w‖₁
            grads = [w.grad for w in self._weights if w.grad is not None]
            torch._foreach_add_(grads, torch._foreach_sign([w for w in self._weights if w.grad is not None]),
                                alpha=cfg.l1)

        due = force_metrics or epoch_end or (self.step + 1) % cfg.metrics_every == 0
        record = None
        if due:
            record = self._read_metrics()
            if record is None:  # diverged: no update from these gradients
                self.elapsed += time.perf_counter() - t0
                return []
        if cfg.clip_norm:
            nn.utils.clip_grad_norm_(self.params, cfg.clip_norm, foreach=True)
        self.optimizer.step()
        self.step += 1
        records = []
        if record is not None:
            records.append(self._finish_record(record, time.perf_counter() - t0))
        if epoch_end:
            self._pos = 0
            self.epoch += 1
            records.extend(self._end_epoch())
        else:
            self.elapsed += time.perf_counter() - t0
        return records

    def _forward_backward(self, x, y, mix):
        """Forward and backward passes; returns the detached output and mean loss."""
        if not self.bptt:
            out = self.model(x)
            loss = self._loss(out, y, mix)
            loss.backward()
            return out.detach(), loss.detach()
        # Truncated BPTT: gradients flow back at most `bptt` steps; one update per batch (gradients summed
        # over the chunks, each weighted by its share of the sequence, so the loss is the sequence's mean).
        steps, state, outs, total = x.shape[1], None, [], 0.0
        for t0 in range(0, steps, self.bptt):
            xs, ys = x[:, t0:t0 + self.bptt], y[:, t0:t0 + self.bptt]  # (N, k)
            out, state = forward_with_state(self.model, xs, state)  # (N, k, V)
            loss = self._loss(out, ys, None) * (xs.shape[1] / steps)
            loss.backward()
            state = detach_state(state)
            outs.append(out.detach())
            total = total + loss.detach()
        return torch.cat(outs, dim=1), total

    def _loss(self, out, y, mix):
        if mix is None:
            return compute_loss(self.loss_name, out, y)
        lam, perm = mix
        return lam * compute_loss(self.loss_name, out, y) + (1 - lam) * compute_loss(self.loss_name, out, y[perm])

    # ---------------------------------------------------------------- metrics
    def _window_sums(self) -> torch.Tensor:
        """[summed loss, correct predictions] over the steps since the last record, as one device tensor."""
        if not self._pending:
            return torch.zeros(2, device=self.device)
        losses = torch.stack([p[0] for p in self._pending])
        counts = torch.tensor([float(p[1]) for p in self._pending], device=self.device)
        loss_sum = torch.dot(losses, counts)
        if self.task == "regression":
            return torch.stack([loss_sum, torch.zeros((), device=self.device)])
        out = torch.cat([p[2].reshape(-1, p[2].shape[-1]) for p in self._pending])
        target = torch.cat([p[3].reshape(-1) for p in self._pending])
        return torch.stack([loss_sum, (out.argmax(dim=-1) == target).sum().to(loss_sum.dtype)])

    def _read_metrics(self) -> dict | None:
        """One synchronisation: window loss and accuracy, per-layer gradient and weight norms.

        Returns None (and sets ``outcome``) when the loss or the gradients are not finite.
        """
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        n_layers = len(self.layer_names)
        grad_sq = torch.zeros(n_layers, device=self.device).index_add_(
            0, self._layer_of, torch.stack(torch._foreach_norm(grads)) ** 2)
        weight_sq = torch.zeros(n_layers, device=self.device).index_add_(
            0, self._layer_of, torch.stack(torch._foreach_norm([p.detach() for p in self.params])) ** 2)
        values = torch.cat([self._window_sums(), grad_sq, weight_sq]).tolist()
        loss_sum, correct = values[0], values[1]
        grad_norms = [math.sqrt(v) for v in values[2:2 + n_layers]]
        weight_norms = [math.sqrt(v) for v in values[2 + n_layers:]]
        if not math.isfinite(loss_sum):
            self._diverge("the loss", restore=True)
            return None
        if not math.isfinite(sum(grad_norms)):
            self._diverge("the gradient", restore=False)
            return None
        # These weights gave a finite loss: keep them as the last good ones.
        torch._foreach_copy_(self._good, self._state)
        self._good_step = self.step
        seen = max(self._seen, 1)
        self._epoch_loss += loss_sum
        self._epoch_correct += correct
        self._epoch_seen += self._seen
        self._pending.clear()
        self._seen = 0
        return {"train_loss": loss_sum / seen, "train_acc": correct / seen if self.task != "regression" else None,
                "grad_norm": dict(zip(self.layer_names, grad_norms)),
                "weight_norm": dict(zip(self.layer_names, weight_norms)),
                "grad_norm_total": math.sqrt(sum(g * g for g in grad_norms))}

    def _finish_record(self, record: dict, batch_seconds: float) -> dict:
        now = self.elapsed + batch_seconds
        window = max(now - self._window_start, 1e-9)
        record.update(kind="step", step=self.step, epoch=self.step / self.batches_per_epoch,
                      val_loss=None, val_acc=None, lr=self.optimizer.param_groups[0]["lr"],
                      samples_per_s=self._window_samples / window, elapsed=now, eta=self.eta(now))
        self._window_start, self._window_samples = now, 0
        return record

    def eta(self, elapsed: float | None = None) -> float | None:
        """Seconds left at the current pace, or None before the first step."""
        elapsed = self.elapsed if elapsed is None else elapsed
        if not self.step:
            return None
        return elapsed / self.step * (self.total_steps - self.step)

    def _end_epoch(self) -> list[dict]:
        t0 = time.perf_counter()
        val_loss, val_acc = batched_loss(self.model, self.x_val, self.y_val, self.loss_name, self.task)
        self.elapsed += time.perf_counter() - t0
        self._window_start = self.elapsed
        seen = max(self._epoch_seen, 1)
        record = {"kind": "epoch", "step": self.step, "epoch": self.epoch,
                  "train_loss": self._epoch_loss / seen,
                  "train_acc": self._epoch_correct / seen if self.task != "regression" else None,
                  "val_loss": val_loss, "val_acc": val_acc, "lr": self.optimizer.param_groups[0]["lr"],
                  "elapsed": self.elapsed, "eta": self.eta()}
        if not math.isfinite(val_loss):
            self._diverge("the validation loss", restore=True)
            return [record]
        if self.config.early_stopping:
            self._early_stopping(val_loss)
        if not self.outcome and self.step >= self.total_steps:
            message = f"finished {self.epoch} epochs"
            if self.config.early_stopping and self.best:
                self._restore(self.best["state"])
                message += f"; restored the best weights (validation loss {self.best['val_loss']:.4g} " \
                           f"after epoch {self.best['epoch']})"
            self.outcome = ("finished", message)
        return [record]

    def _early_stopping(self, val_loss: float) -> None:
        best = self.best
        if best is None or val_loss < best["val_loss"]:
            self.best = {"val_loss": val_loss, "epoch": self.epoch, "bad_epochs": 0,
                         "state": [t.detach().clone() for t in self._state]}
            return
        best["bad_epochs"] += 1
        if best["bad_epochs"] >= self.config.patience:
            self._restore(best["state"])
            self.outcome = ("finished", f"early stopping after epoch {self.epoch}: the validation loss has not "
                                        f"improved for {self.config.patience} epochs; restored the best weights "
                                        f"(validation loss {best['val_loss']:.4g} after epoch {best['epoch']})")

    def _restore(self, tensors: list[torch.Tensor]) -> None:
        with torch.no_grad():
            torch._foreach_copy_(self._state, tensors)

    def _diverge(self, what: str, restore: bool) -> None:
        if restore:
            self._restore(self._good)
        at = self._good_step if restore else self.step
        self.outcome = ("diverged", f"{what} became NaN or infinite by step {self.step + 1}; the weights are "
                                    f"those of step {at}, the last with a finite loss. {DIVERGED_HINT} "
                                    f"(learning rate now {self.config.learning_rate:g})")
