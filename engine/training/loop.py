"""One run's model, optimiser and data on one device, stepped one batch at a time (no threads here)."""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from engine import data as data_mod
from engine import device as device_mod
from engine.errors import InputError
from engine.network.build import build, display_path, summarize
from engine.network.init import init_weights
from engine.network.spec import ModelSpec
from engine.rng import device_generator, recurrent_dropout, use_run_dropout
from engine.training import budget
from engine.training.augment import augment
from engine.training.config import TrainConfig, apply_settings
from engine.training.guard import DIVERGED_HINT, Guard, chance_loss
from engine.training.inference import EVAL_BATCH, chunk_sums
from engine.training.losses import check_output_range, compute_loss, mixed_loss, resolve_loss
from engine.training.optimizers import make_optimizer, penalised
from engine.training.recorder import Recorder
from engine.training.sequence import bptt_chunk, truncated_bptt
from engine.training.trajectory import Snapshots


class Loop:
    """Trains ``spec`` on a dataset under ``config``, one ``train_batch()`` at a time.

    Metrics stay on the device and are read back once every ``config.metrics_every`` steps and at the
    end of each epoch (one synchronisation each); the records those reads produce are returned.
    ``outcome`` becomes ``(state, message)`` when the run is over: "finished" or "diverged".
    """

    def __init__(self, spec: ModelSpec, config: TrainConfig, dataset: data_mod.Dataset | None = None,
                 hist_every: int | None = None):
        self.config = cfg = config.check()
        self.dataset = dataset if dataset is not None else data_mod.load(cfg.dataset, cfg.seed,
                                                                         **cfg.dataset_options)
        self.run_notes: list[str] = []  # about the run's settings (not the network), for the status
        if data_mod.autoencodes(spec) and self.dataset.task != "reconstruction":
            # An image-to-image network learns to give back its input: the labels only colour its codes.
            self.dataset = data_mod.reconstruction(self.dataset)
            self.run_notes.append(f"{spec.name} outputs images of its input's shape, so it trains as an "
                                  f"autoencoder: the target of every image is the image itself (accuracy: none)")
        for split, what in (("train", "training"), ("val", "validation")):
            if len(self.dataset.split(split)[0]) == 0:
                raise InputError(f"the {what} split of {self.dataset.name} is empty; use a larger dataset "
                                 f"(more samples) so that every split gets some")
        self.spec, self.notes = data_mod.adapt_spec(spec, self.dataset)
        self.task = self.dataset.task
        self.accuracy = data_mod.has_accuracy(self.task)
        self.loss_name = resolve_loss(cfg.loss, self.task)
        check_output_range(self.loss_name, self.spec)
        summary = summarize(self.spec)
        budget.check_batch(summary, min(cfg.batch_size, len(self.dataset.split("train")[0])))
        self.device = device_mod.resolve(cfg.device)
        self.model = build(self.spec, seed=cfg.seed)
        if cfg.init != "default":
            init_weights(self.model, cfg.init, seed=cfg.seed)
        self.model.to(self.device)
        # L2 goes into the gradient before clipping (see TrainConfig.weight_decay), not into the optimiser.
        self.optimizer = make_optimizer(self.model, dataclasses.replace(cfg, weight_decay=0.0), cfg.learning_rate)
        self.x_train, self.y_train = (t.to(self.device) for t in self.dataset.split("train"))
        self.x_val, self.y_val = (t.to(self.device) for t in self.dataset.split("val"))
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.noise_generator = device_generator(self.device, cfg.seed + 2)  # denoising noise: its own seeded stream
        if cfg.noise and self.task == "char":
            raise InputError("noise is added to real-valued inputs; character models read token ids: set noise to 0")
        # Dropout masks from the run's own generator: torch's global one is shared by every thread (rng.py).
        try:
            self.dropout_generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
            use_run_dropout(self.model, self.dropout_generator)
        except RuntimeError:  # a device without its own generators: dropout stays on the global one
            self.dropout_generator = None
        if recurrent_dropout(self.model):
            self.run_notes.append("the recurrent layers' own dropout draws from torch's global random generator, "
                                  "so this run repeats exactly only when no other run trains at the same time")
        self.images = self.dataset.input_kind == "image"
        self.bptt = bptt_chunk(self.config.bptt, self.task, self.dataset, self.model, self.run_notes)
        self._eval_chunk = budget.eval_chunk(summary, cfg.batch_size, EVAL_BATCH)
        self._val: list | None = None  # a validation pass in progress: [next index, device sums]
        self._next_config: TrainConfig | None = None  # set by ``update``, applied before the next batch
        self.changes: list[dict] = []  # {"step", "setting", "old", "new"} for every live change

        self.batches_per_epoch = math.ceil(len(self.x_train) / cfg.batch_size)
        self.total_steps = cfg.epochs * self.batches_per_epoch
        self.step = 0  # batches done
        self._first_step = 0  # always recorded: 0, or the step a checkpoint resumed at
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
        # which layer each parameter belongs to, for summing squared norms per layer on the device: the
        # gradients' to the first len(layers) sums, the weights' to the next ones (one index_add for both)
        of = [layers.index(display_path(n.rpartition(".")[0])) for n in names]
        self._layer_of = torch.tensor(of + [k + len(layers) for k in of], device=self.device)

        # (mean loss, loss terms, detached output, target) of each step since the last record: summed at the
        # record, so a step adds no tensor arithmetic of its own (it showed on small, fast models).
        self._pending: list[tuple] = []
        self._seen = 0  # samples (tokens for "char") since the last record, known without synchronising
        self._window_start, self._window_samples = 0.0, 0
        self._epoch_loss, self._epoch_correct, self._epoch_seen = 0.0, 0.0, 0
        # The weights with the lowest training loss seen (the loss of the batch they were measured on),
        # restored when the run diverges; the first recorded loss and chance level set the divergence bar.
        self._state = [t for t in self.model.state_dict().values()]
        self.guard = Guard(self._state, chance_loss(self.dataset, self.loss_name))
        self.best: dict | None = None  # early stopping: {"val_loss", "epoch", "state", "bad_epochs"}
        # Histograms, update ratios and unit health on step records (recorder.py); None records none of them.
        self.recorder: Recorder | None = Recorder(self.model, self.x_val, self.total_steps, hist_every)
        self.initial: dict[str, torch.Tensor] | None = None  # the weights before step 0 (CPU): the loss line's start
        self.snapshots = Snapshots(self.model, self.total_steps)  # the landscape's principal plane (trajectory.py)

    # ---------------------------------------------------------------- one batch
    def train_batch(self, force_metrics: bool = False, interrupt: Callable[[], bool] | None = None) -> list[dict]:
        """Train on the next batch; returns the metric records this step produced (often none).

        Args:
            force_metrics: read the metrics back after this step even if it is not a record step.
            interrupt: polled between validation chunks; when it turns true the pass is left half done (it
                resumes at the next call, before any training) and no batch is trained.
        """
        if self.outcome:
            return []
        if self._next_config is not None:
            self._apply_config()
        first: list[dict] = []
        if self._val is not None:  # an interrupted end-of-epoch validation comes first
            first = self._end_epoch(interrupt)
            if self.outcome or self._val is not None:
                return first
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
        if self.task == "reconstruction":
            y, mix = x, None  # the target is the (augmented) clean image; mixup's blend is the image itself
        if cfg.noise:
            x = x + cfg.noise * torch.randn(x.shape, generator=self.noise_generator, device=self.noise_generator.device,
                                            dtype=x.dtype).to(x.device)

        if not self.model.training:  # train() walks every module: only when evaluation switched it off
            self.model.train()
        if self.step == 0 and self.initial is None:
            self.initial = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        self.snapshots.offer(self.step)
        first_record = self.step == self._first_step
        hist = self.recorder is not None and self.recorder.due(self.step)
        if hist:
            self.recorder.attach()  # forward hooks on this batch's own pass
        for p in self.params:  # the optimiser's zero_grad(set_to_none=True), without its profiler wrapper
            p.grad = None
        try:
            out, loss = self._forward_backward(x, y, mix)
        finally:
            if hist:
                self.recorder.detach()
        count = y.numel() if self.task == "char" else len(x)  # loss terms: tokens for "char", else samples
        self._pending.append((loss, count, out if self.accuracy else None, y))
        self._seen += count
        self._window_samples += len(x)
        if cfg.weight_decay or cfg.l1:  # the penalties' gradients, before clipping: λw (L2) and λ·sign(w) (L1)
            weights = [w for w in self._weights if w.grad is not None]
            grads = [w.grad for w in weights]
            if cfg.weight_decay:
                torch._foreach_add_(grads, weights, alpha=cfg.weight_decay)
            if cfg.l1:
                torch._foreach_add_(grads, torch._foreach_sign(weights), alpha=cfg.l1)

        # The first step is always recorded: its loss, of the initial (or resumed) weights, sets the divergence bar.
        due = force_metrics or epoch_end or first_record or hist or (self.step + 1) % cfg.metrics_every == 0
        record = None
        if due:
            record = self._read_metrics()
            if record is None:  # diverged: no update from these gradients
                self.elapsed += time.perf_counter() - t0
                return first
        if cfg.clip_norm:
            nn.utils.clip_grad_norm_(self.params, cfg.clip_norm, foreach=True)
        if hist:
            self.recorder.before_step()
        self.optimizer.step()
        self.step += 1
        records = []
        if record is not None:
            if hist:
                record.update(self.recorder.after_step(self.step - 1))
            records.append(self._finish_record(record, time.perf_counter() - t0))
        self.elapsed += time.perf_counter() - t0
        if epoch_end:
            self._pos = 0
            self.epoch += 1
            records.extend(self._end_epoch(interrupt))
        return first + records

    # ---------------------------------------------------------------- live changes
    def update(self, config: TrainConfig) -> None:
        """Use ``config`` (differing from the current one only in ``LIVE_SETTINGS``) from the next batch on."""
        self._next_config = config

    def _apply_config(self) -> None:
        new, self._next_config = self._next_config, None
        self.changes.extend(dict(c, step=self.step) for c in apply_settings(self.optimizer, self.config, new))
        self.config = new

    def _forward_backward(self, x, y, mix):
        """Forward and backward passes; returns the detached output and mean loss."""
        if self.bptt:  # mixup is for images only: a character model's batch has none
            return truncated_bptt(self.model, x, y, self.bptt, lambda out, ys: compute_loss(self.loss_name, out, ys))
        out = self.model(x)
        loss = mixed_loss(self.loss_name, out, y, mix)
        loss.backward()
        return out.detach(), loss.detach()

    # ---------------------------------------------------------------- metrics
    def _window_sums(self) -> torch.Tensor:
        """[summed loss, correct predictions, the last step's loss] since the last record, as one device tensor."""
        if not self._pending:
            return torch.zeros(3, device=self.device)
        losses = torch.stack([p[0] for p in self._pending])
        counts = torch.tensor([float(p[1]) for p in self._pending], device=self.device)
        loss_sum = torch.dot(losses, counts)
        if not self.accuracy:
            return torch.stack([loss_sum, torch.zeros_like(loss_sum), losses[-1]])
        out = torch.cat([p[2].reshape(-1, p[2].shape[-1]) for p in self._pending])
        target = torch.cat([p[3].reshape(-1) for p in self._pending])
        return torch.stack([loss_sum, (out.argmax(dim=-1) == target).sum().to(loss_sum.dtype), losses[-1]])

    def _read_metrics(self) -> dict | None:
        """One synchronisation: window loss and accuracy, per-layer gradient and weight norms.

        Returns None (and sets ``outcome``) when the loss or the gradients are not finite, or the loss grew
        far beyond its first value (see ``guard.DIVERGE_FACTOR``).
        """
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        n_layers = len(self.layer_names)
        norms = torch.stack(torch._foreach_norm(grads + [p.detach() for p in self.params]))
        squares = torch.zeros(2 * n_layers, device=self.device, dtype=norms.dtype).index_add_(
            0, self._layer_of, norms.square())  # the layers' squared gradient norms, then their weights'
        values = torch.cat([self._window_sums().to(norms.dtype), squares]).tolist()
        loss_sum, correct, last_loss = values[0], values[1], values[2]
        grad_norms = [math.sqrt(v) for v in values[3:3 + n_layers]]
        weight_norms = [math.sqrt(v) for v in values[3 + n_layers:]]
        seen = max(self._seen, 1)
        mean = loss_sum / seen
        if not math.isfinite(loss_sum):
            self._diverge("the training loss became NaN or infinite")
            return None
        if not math.isfinite(sum(grad_norms)):
            self._diverge("the gradient became NaN or infinite")
            return None
        grown = self.guard.grown("the training loss", mean)
        if grown:
            self._diverge(grown)
            return None
        self.guard.offer(last_loss, self.step)  # the current weights gave the last batch's loss
        self._epoch_loss += loss_sum
        self._epoch_correct += correct
        self._epoch_seen += self._seen
        self._pending.clear()
        self._seen = 0
        return {"train_loss": mean, "train_acc": correct / seen if self.accuracy else None,
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

    def _end_epoch(self, interrupt: Callable[[], bool] | None = None) -> list[dict]:
        """Validate (chunk by chunk, resumable when ``interrupt`` fires) and emit the epoch record."""
        t0 = time.perf_counter()
        if self._val is None:
            self._val = [0, torch.zeros(2, device=self.device)]
        self.model.eval()
        try:
            n, k = len(self.x_val), self._eval_chunk
            while self._val[0] < n:
                i = self._val[0]
                self._val[1] += chunk_sums(self.model, self.x_val[i:i + k], self.y_val[i:i + k], self.loss_name,
                                           self.task)
                self._val[0] = i + k
                if interrupt is not None and self._val[0] < n and interrupt():
                    self.elapsed += time.perf_counter() - t0
                    return []
        finally:
            self.model.train()
        (loss_sum, correct), terms = self._val[1].tolist(), self.y_val.numel()
        self._val = None
        val_loss, val_acc = loss_sum / terms, correct / terms if self.accuracy else None
        self.elapsed += time.perf_counter() - t0
        self._window_start = self.elapsed
        seen = max(self._epoch_seen, 1)
        record = {"kind": "epoch", "step": self.step, "epoch": self.epoch,
                  "train_loss": self._epoch_loss / seen,
                  "train_acc": self._epoch_correct / seen if self.accuracy else None,
                  "val_loss": val_loss, "val_acc": val_acc, "lr": self.optimizer.param_groups[0]["lr"],
                  "elapsed": self.elapsed, "eta": self.eta()}
        if not math.isfinite(val_loss):
            self._diverge("the validation loss became NaN or infinite")
            return [record]
        grown = self.guard.grown("the validation loss", val_loss)
        if grown:
            self._diverge(grown)
            return [record]
        if self.config.early_stopping:
            self._early_stopping(val_loss)
        if not self.outcome and self.step >= self.total_steps:
            message = f"finished {self.epoch} epoch{'s' if self.epoch != 1 else ''}"
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

    def _diverge(self, what: str) -> None:
        """End the run as diverged and restore the weights with the lowest training loss seen."""
        kept = self.guard.restore()
        self.outcome = ("diverged", f"Diverged: {what} at step {self.step + 1}, so the run stopped. {kept} "
                                    f"{DIVERGED_HINT} (learning rate now {self.config.learning_rate:g})")

    def release(self) -> None:
        """Free what only further training needs (optimiser state, divergence and early-stopping copies); the
        weight snapshots give way to their principal plane."""
        self.snapshots.close(self.step)
        self.optimizer.state.clear()
        self.guard.release()
        self._pending, self._val = [], None
        if self.best:
            self.best.pop("state", None)
