"""Lessons and challenges: guided activities read from ``lessons/*.toml``, checked on the student's stored workspace.

- ``catalogue(reload=False) -> Catalogue``: the loaded lessons (``lessons``, in order; ``get(id)``, ``by_topic()``)
  and ``errors`` (``LoadError``: ``path``, ``where``, ``message``, e.g. "lessons/03-optimisers.toml:
  steps[2].check.name: unknown check 'foo'"); ``load_folder(path)`` for any folder.
- ``Lesson`` (``id``, ``title``, ``topic``, ``minutes``, ``summary``, ``steps``, ``challenge``, ``order``, ``path``),
  ``Step`` (``title``, ``explanation``, ``setup``, ``prediction``, ``check``: each None when absent), ``Setup``
  (``preset``, ``spec``, ``dataset``, ``dataset_options``, ``settings``, ``page``, ``tab``, ``depth_lab``,
  ``time_lab``; ``config(base) -> TrainConfig``: the step's data and settings applied), ``Prediction``
  (``question``, ``kind``, ``options``, ``answer``, ``value``, ``tolerance``, ``reveal``, ``correct(answer)``);
  ``PAGES`` (page -> tabs), ``TOPICS``.
- ``CHECKS`` (name -> ``Check``: ``description``, ``form.params`` of ``Param``), ``RUN_FILTERS`` (the parameters
  every run check shares), ``CheckSpec`` (``name``, ``params``), ``parse_check(table)``,
  ``evaluate(check, workspace_data) -> Verdict`` (``passed``, ``runs``, ``evidence``), ``register`` (a new kind of
  check).
- ``Challenge`` (``constraints()``: each in words; ``better(value, than)``), ``parse_challenge(table, key)`` (a
  teacher's custom challenge: errors name the field), ``check_challenge(challenge, run) -> ChallengeResult``
  (``counts``, ``met``, ``value``, ``parameters``, ``reasons``), ``METRICS``, ``FORM`` (the custom challenge's
  fields).
- ``LessonError`` (an ``engine.InputError``: ``where``, ``problem``), ``Param``, ``Form``; ``checks_markdown()``:
  the README's table of checks, generated from the registry.

Nothing here imports the workspace store: ``engine.workspace`` keeps progress and calls ``evaluate``.
"""
from engine.lessons.catalogue import Catalogue, LoadError, catalogue, load_folder
from engine.lessons.challenges import FORM, METRICS, Challenge, ChallengeResult, check_challenge, parse_challenge
from engine.lessons.checks import CHECKS, RUN_FILTERS, Check, CheckSpec, Verdict, evaluate, parse_check, register
from engine.lessons.fields import Form, LessonError, Param
from engine.lessons.schema import PAGES, TOPICS, Lesson, Prediction, Setup, Step


def checks_markdown() -> str:
    """The README's tables of checks and their parameters, generated from ``CHECKS``: the run filters once, then
    each check with its own parameters."""
    filters = RUN_FILTERS
    rows = ["Run filters (the checks marked *filters* take them; a run must also be finished and measured on this "
            "server, not imported):", "",
            "| parameter | type | meaning |", "|---|---|---|"]
    rows += [f"| `{n}` | {p.describe()} | {p.help} |" for n, p in filters.items()]
    rows += ["", "| check | passes when | its own parameters |", "|---|---|---|"]
    for check in CHECKS.values():
        own = {n: p for n, p in check.form.params.items() if n not in filters}
        takes = "*filters*; " if set(filters) & set(check.form.params) else ""
        params = "; ".join(f"`{n}` ({p.describe()}): {p.help}" for n, p in own.items())
        rows.append(f"| `{check.name}` | {check.description} | {takes}{params or 'none'} |")
    return "\n".join(rows)


__all__ = ["catalogue", "load_folder", "Catalogue", "LoadError", "Lesson", "Step", "Setup", "Prediction", "PAGES",
           "TOPICS", "CHECKS", "Check", "CheckSpec", "Verdict", "evaluate", "parse_check", "register", "Challenge",
           "ChallengeResult", "RUN_FILTERS", "check_challenge", "parse_challenge", "METRICS", "FORM", "LessonError",
           "Param", "Form",
           "checks_markdown"]
