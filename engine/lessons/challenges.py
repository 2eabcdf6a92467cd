"""Challenges: a goal metric on a dataset under constraints, checked against a stored run's spec, config and results.

A lesson's challenge and a teacher's custom one are the same ``Challenge``, checked by ``parse_challenge`` (every
field typed and range-checked, errors naming the field) and judged by ``check_challenge``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from engine import data, limits
from engine.lessons import facts
from engine.lessons.fields import Form, LessonError, Param, join
from engine.network import TYPES

METRICS = {"test_accuracy": ("accuracy", "higher"), "test_loss": ("loss", "lower")}  # name: (result, better)

FORM = Form({
    "title": Param("str", "what the student reads, e.g. \"≥ 90% on spiral with ≤ 200 parameters\"", required=True,
                   low=1, high=200),
    "description": Param("str", "a sentence or two more", default="", low=0, high=1000),
    "dataset": Param("str", "the dataset a run must train on", required=True, choices=lambda: data.names()),
    "dataset_options": Param("table", "the dataset's options a run must use (missing: any)", default=None),
    "metric": Param("str", "test_accuracy (higher is better) or test_loss (lower is better)", required=True,
                    choices=tuple(METRICS)),
    "threshold": Param("float", "the goal: accuracy at least this (0 to 1), or loss at most this", required=True,
                       low=0, high=1000),
    "max_parameters": Param("int", "the network's parameters at most this", low=1, high=limits.MAX_PARAMS),
    "allowed_layers": Param("names", "the only layer types allowed (missing: any)", low=1, high=len(TYPES),
                            choices=lambda: tuple(TYPES)),
    "max_epochs": Param("int", "epochs at most this", low=1, high=1000),
    "max_bottleneck": Param("int", "the fewest values a layer passes on per sample (an autoencoder's code) at most "
                                   "this", low=1, high=10**7),
})


@dataclass(frozen=True)
class Challenge:
    """A goal metric on a dataset with constraints; ``key`` names it (a lesson's id, or a class's custom key)."""

    key: str
    title: str
    dataset: str
    metric: str
    threshold: float
    description: str = ""
    dataset_options: dict | None = None
    max_parameters: int | None = None
    allowed_layers: tuple[str, ...] | None = None
    max_epochs: int | None = None
    max_bottleneck: int | None = None

    def to_dict(self) -> dict:
        """The fields a custom challenge is stored with (``key`` left out), None values dropped."""
        out = {k: v for k, v in asdict(self).items() if k != "key" and v is not None}
        if self.allowed_layers is not None:
            out["allowed_layers"] = list(self.allowed_layers)
        return out

    def constraints(self) -> list[str]:
        """Each constraint in words ("at most 200 parameters"), for the student's rules and the teacher's leaderboard;
        empty when the challenge sets none."""
        out = []
        if self.max_parameters is not None:
            out.append(f"at most {self.max_parameters:,} parameters")
        if self.allowed_layers is not None:
            out.append("only these layers: " + ", ".join(self.allowed_layers))
        if self.max_epochs is not None:
            out.append(f"at most {self.max_epochs} epochs")
        if self.max_bottleneck is not None:
            out.append(f"a bottleneck of at most {self.max_bottleneck} values")
        return out

    def better(self, value: float, than: float | None) -> bool:
        """Whether ``value`` beats ``than`` on this challenge's metric (None: nothing to beat)."""
        if than is None:
            return True
        return value > than if METRICS[self.metric][1] == "higher" else value < than


@dataclass(frozen=True)
class ChallengeResult:
    """A run judged against a challenge.

    Attributes:
        counts: the run is a valid attempt (finished here, the right data, within every constraint).
        met: it also reached the threshold.
        value: its metric (None when it does not count). parameters: its network's parameters.
        reasons: why it does not count, one sentence each (empty when it does).
    """

    run: int
    counts: bool
    met: bool
    value: float | None
    parameters: int | None
    reasons: tuple[str, ...] = ()


def parse_challenge(table, key: str = "custom", where: str = "challenge") -> Challenge:
    """A challenge from a lesson file's ``[challenge]`` table or a teacher's form.

    Raises:
        LessonError: a missing or unknown field, a value of the wrong type or out of range (naming the field),
            an accuracy threshold above 1, dataset options the dataset does not take.
    """
    values = FORM.check(table, where)
    if values["metric"] == "test_accuracy" and values["threshold"] > 1:
        raise LessonError(join(where, "threshold"), f"an accuracy is 0 to 1, not {values['threshold']:g}")
    options = values["dataset_options"]
    if options is not None:
        check_options(values["dataset"], options, join(where, "dataset_options"))
    layers = values["allowed_layers"]
    return Challenge(key=key, title=values["title"], dataset=values["dataset"], metric=values["metric"],
                     threshold=values["threshold"], description=values["description"], dataset_options=options,
                     max_parameters=values["max_parameters"], max_epochs=values["max_epochs"],
                     max_bottleneck=values["max_bottleneck"],
                     allowed_layers=tuple(layers) if layers is not None else None)


def check_options(dataset: str, options: dict, where: str) -> None:
    """LessonError naming the option when ``dataset`` does not take it or its value is out of its range."""
    known = data.options(dataset)
    for name, value in options.items():
        if name not in known:
            raise LessonError(join(where, name), f"{dataset} takes no option {name!r}; its options: "
                                                 f"{', '.join(known) or 'none'}")
        arg = known[name]
        Param(arg.kind if arg.kind in ("int", "float") else "str", arg.help, low=arg.min, high=arg.max) \
            .check(value, join(where, name))


def check_challenge(challenge: Challenge, run) -> ChallengeResult:
    """Judge a stored run (``Store.open``'s ``RunRecord``) against a challenge, from its stored spec, config,
    records and results.

    A run counts when it finished on this server (not imported), trained on the challenge's dataset (and its
    options, when the challenge fixes them), within its parameters, layer types, epochs and bottleneck, and has the
    metric.
    """
    reasons = []
    if run.state != "finished":
        reasons.append(f"run {run.number} has not finished (it is {run.state})")
    if facts.imported(run):
        reasons.append(f"run {run.number} came from an uploaded file: its results were not measured here")
    if facts.dataset(run) != challenge.dataset:
        reasons.append(f"run {run.number} trained on {facts.dataset(run)}, not {challenge.dataset}")
    elif challenge.dataset_options is not None and any(
            facts.dataset_options(run).get(k, data.options(challenge.dataset)[k].default) != v
            for k, v in challenge.dataset_options.items()):
        reasons.append(f"run {run.number} used other options of {challenge.dataset} than "
                       f"{challenge.dataset_options}")
    parameters = facts.parameters(run)
    if challenge.max_parameters is not None and (parameters is None or parameters > challenge.max_parameters):
        reasons.append(f"its network has {parameters if parameters is not None else 'an unknown number of'} "
                       f"parameters, over {challenge.max_parameters}")
    if challenge.allowed_layers is not None:
        other = sorted(set(facts.layer_types(run)) - set(challenge.allowed_layers))
        if other:
            reasons.append(f"its network uses {', '.join(other)}, not allowed here "
                           f"(allowed: {', '.join(challenge.allowed_layers)})")
    if challenge.max_epochs is not None:
        planned = facts.config(run).get("epochs")
        trained = max(facts.epochs_run(run), planned if isinstance(planned, int) else 0)
        if trained > challenge.max_epochs:
            reasons.append(f"it trained for {trained} epochs, over {challenge.max_epochs}")
    if challenge.max_bottleneck is not None:
        narrowest = facts.bottleneck(run)
        if narrowest is None or narrowest > challenge.max_bottleneck:
            shown = narrowest if narrowest is not None else "an unknown number of"
            reasons.append(f"its narrowest layer passes on {shown} values, over {challenge.max_bottleneck}")
    value = facts.result(run, METRICS[challenge.metric][0])
    if value is None:
        reasons.append(f"run {run.number} has no test {METRICS[challenge.metric][0]}")
    counts = not reasons
    met = counts and (value >= challenge.threshold if METRICS[challenge.metric][1] == "higher"
                      else value <= challenge.threshold)
    return ChallengeResult(run.number, counts, met, value if counts else None, parameters, tuple(reasons))
