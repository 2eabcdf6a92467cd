"""Reference runs for the lesson tests: short seeded runs through the engine's real trainer and the Gradients lab,
stored as the pages store them (the Train page's results, the time tab's settings key and snapshots)."""

import engine
from engine import data
from engine.gradients import lab
from engine.network.init import make_depth_mlp
from engine.training import TERMINAL, RunLimiter, TrainConfig, Trainer, evaluate
from engine.workspace import RunRecord, plain_part
from tests.engine.run_helpers import wait_for


def mlp(name, inputs, widths, activation="Tanh", classes=2, dropout=None, flatten=False):
    layers = [{"type": "Flatten"}] if flatten else []
    for width in widths:
        layers += [{"type": "Linear", "out_features": width}, {"type": activation}]
        if dropout:
            layers.append({"type": "Dropout", "p": dropout})
    return {"name": name, "input": inputs, "layers": layers + [{"type": "Linear", "out_features": classes}]}


TINY_CNN = {"name": "tiny-cnn", "input": [1, 28, 28], "layers": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 5}, {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 4},
    {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}
AE16 = {"name": "ae16", "input": [1, 28, 28], "layers": [
    {"type": "Flatten"}, {"type": "Linear", "out_features": 64}, {"type": "ReLU"}, {"type": "Linear", "out_features": 16},
    {"type": "ReLU"}, {"type": "Linear", "out_features": 64}, {"type": "ReLU"}, {"type": "Linear", "out_features": 784},
    {"type": "Sigmoid"}, {"type": "Unflatten", "unflattened_size": [1, 28, 28]}]}
RELU_HE = make_depth_mlp(10, 32, "ReLU", input_shape=[1, 8, 8], num_classes=10, name="relu-he-10").to_dict()
WIDE = mlp("wide-mlp", [2], [128, 128], "ReLU")
SPIRAL_SMALL = {"dataset": "spiral", "dataset_options": {"n": 100, "noise": 0.3}, "epochs": 150, "lr": 0.01}


def train(number, spec, **settings) -> RunRecord:
    """A finished run as the Train page stores it: spec, config, records, test loss and accuracy."""
    return record(number, trained(spec, **settings))


def trained(spec, **settings) -> Trainer:
    """A finished run of the engine's real trainer (CPU, seed 0 unless given), kept alive as a page's polls keep it:
    a long run on a loaded machine would otherwise stop itself for want of a heartbeat."""
    spec = engine.network.presets.get(spec) if isinstance(spec, str) else engine.ModelSpec.from_dict(spec)
    config = TrainConfig(**{"device": "cpu", "seed": 0, **settings})
    dataset = data.load(config.dataset, config.seed, **config.dataset_options)
    trainer = Trainer(spec, config, dataset=dataset, limiter=RunLimiter(1))
    trainer.start()
    assert wait_for(lambda: trainer.heartbeat() or trainer.state in TERMINAL, 600) and trainer.state == "finished", \
        trainer.status
    return trainer


def record(number, trainer: Trainer) -> RunRecord:
    """A finished trainer's run as the Train page stores it: spec, config, records, test loss and accuracy."""
    results = evaluate(trainer.model, trainer.dataset, "test")
    return RunRecord(number=number, group="train", label=f"run {number}", spec=trainer.spec.to_dict(),
                     config=trainer.config.to_dict(), state="finished", records=trainer.records(),
                     results={"loss": results["loss"], "accuracy": results["accuracy"]})


def time_run(number, cell="RNN (tanh)", radius=1.5, linear=True, clip=1.0, T=30, hidden=32, steps=60) -> RunRecord:
    """A Gradients "Through time" run as the page stores it: group "time", the settings key, the snapshots."""
    ds = lab.sequence_task("adding", T)
    trainer = lab.time_trainer(cell, hidden, ds, clip=clip, radius=radius, steps=steps)
    probe = lab.probe_batch(ds, 32)
    first = lab.snapshot_norms(lab.private_copy(trainer), trainer.weights(), *probe)
    trainer.start()
    assert wait_for(lambda: trainer.state in TERMINAL, 60) and trainer.state == "finished", trainer.status
    key = (cell, "adding", T, hidden, radius, "spectral", linear, clip, 20)
    shared = {"snap_steps": [0], "snaps": [first], "clip": clip, "baseline": lab.baseline(ds), "cell": cell}
    return RunRecord(number=number, group="time", label="time 1", spec=trainer.spec.to_dict(),
                     config=trainer.config.to_dict(), state="finished", records=trainer.records(),
                     context={"key": plain_part(key), "shared": plain_part(shared)})
