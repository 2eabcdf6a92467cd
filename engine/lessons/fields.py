"""Typed, range-checked fields: what a lesson file, a check's parameters and a custom challenge are checked with."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engine.errors import InputError


class LessonError(InputError):
    """A lesson file, a check's parameters or a custom challenge that is refused.

    Args:
        where: the field, dotted and indexed as in the file ("steps[2].check.name"); the path is put in front by
            the loader ("lessons/03-optimisers.toml: steps[2].check.name: unknown check 'foo'").
        problem: what is wrong and how to fix it.
    """

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


def short(value, most: int = 60) -> str:
    """``repr(value)`` cut to ``most`` characters: a message never repeats a whole table."""
    text = repr(value)
    return text if len(text) <= most else text[:most - 1] + "…"


def join(where: str, name: str | int) -> str:
    """A field's position below ``where``: "steps" + 2 -> "steps[2]", "steps[2]" + "check" -> "steps[2].check"."""
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


@dataclass(frozen=True)
class Param:
    """One typed field: "int", "float", "str", "bool", "names" (a list of strings), "table" (a TOML table) or
    "tables" (a list of tables).

    Args:
        kind: the type above. help: one line for the README and the teacher's form.
        required: refused when missing; otherwise ``default`` stands in.
        low, high: inclusive range for numbers; for "str", lengths; for "names", how many.
        choices: the allowed strings (or each string of "names"): a tuple, or a function returning them
            (registries that grow, e.g. dataset names).
    """

    kind: str
    help: str
    required: bool = False
    default: object = None
    low: float | None = None
    high: float | None = None
    choices: tuple | Callable[[], Iterable[str]] | None = None

    def allowed(self) -> tuple[str, ...] | None:
        """The allowed strings, or None when any string goes."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def check(self, value, where: str):
        """``value`` when it has this type and range, else LessonError naming ``where``."""
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool):
                raise LessonError(where, f"should be true or false, not {short(value)}")
            return value
        if kind in ("int", "float"):
            number_ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not number_ok or (kind == "int" and not float(value).is_integer()):
                raise LessonError(where, f"should be {'a whole number' if kind == 'int' else 'a number'}, "
                                         f"not {short(value)}")
            if not math.isfinite(value):
                raise LessonError(where, f"should be a finite number, not {short(value)}")
            self._range(value, where, "")
            return int(value) if kind == "int" else float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise LessonError(where, f"should be text, not {short(value)}")
            self._range(len(value), where, " characters")
            self._choice(value, where)
            return value
        if kind == "names":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise LessonError(where, f"should be a list of names such as [\"a\", \"b\"], not {short(value)}")
            self._range(len(value), where, " names")
            for i, v in enumerate(value):
                self._choice(v, join(where, i))
            return list(value)
        if kind == "table":
            if not isinstance(value, dict):
                raise LessonError(where, f"should be a table, not {short(value)}")
            return value
        if kind == "tables":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise LessonError(where, f"should be a list of tables ([[...]] in TOML), not {short(value)}")
            self._range(len(value), where, " tables")
            return value
        raise ValueError(f"unknown field kind {kind!r}")

    def _range(self, value, where: str, unit: str) -> None:
        if self.low is not None and value < self.low:
            raise LessonError(where, f"{value:g}{unit} is below the smallest allowed, {self.low:g}{unit}")
        if self.high is not None and value > self.high:
            raise LessonError(where, f"{value:g}{unit} is above the largest allowed, {self.high:g}{unit}")

    def _choice(self, value: str, where: str) -> None:
        allowed = self.allowed()
        if allowed is not None and value not in allowed:
            raise LessonError(where, f"unknown value {value!r}; one of: {', '.join(allowed)}")

    def describe(self) -> str:
        """The field in a few words: type, range or choices, default."""
        parts = [self.kind]
        if self.low is not None or self.high is not None:
            low = "" if self.low is None else f"{self.low:g}"
            parts.append(f"{low}..{'' if self.high is None else f'{self.high:g}'}")
        allowed = self.allowed()
        if allowed is not None and len(allowed) <= 8:
            parts.append("one of " + ", ".join(allowed))
        parts.append("required" if self.required else "optional" if self.default is None
                     else f"default {self.default!r}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Form:
    """A table of ``Param``s: ``check(table, where)`` returns every field, defaults filled in."""

    params: dict[str, Param] = field(default_factory=dict)

    def check(self, table, where: str) -> dict:
        """The table's values checked, unknown keys and missing required ones refused, naming the field."""
        if not isinstance(table, dict):
            raise LessonError(where, f"should be a table, not {short(table)}")
        unknown = [k for k in table if k not in self.params]
        if unknown:
            known = ", ".join(self.params) or "none"
            raise LessonError(join(where, str(unknown[0])), f"unknown field; the known ones: {known}")
        out = {}
        for name, param in self.params.items():
            if table.get(name) is not None:  # a form's empty field (None) is a missing one
                out[name] = param.check(table[name], join(where, name))
            elif param.required:
                raise LessonError(join(where, name), "missing (required)")
            else:
                out[name] = param.default
        return out
