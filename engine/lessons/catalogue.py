"""Loading the ``lessons/`` folder: every ``*.toml`` file checked; a broken one is refused with its path and field
while the others load."""
from __future__ import annotations

import logging
import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from engine.lessons.fields import LessonError
from engine.lessons.schema import Lesson, parse_lesson

FOLDER = Path(__file__).resolve().parents[2] / "lessons"  # the repository's lessons/ folder
MAX_FILE_BYTES = 256 * 1024  # a lesson file is a few KiB; anything larger is not one
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadError:
    """A lesson file refused: its path, the field (empty for the whole file) and the message with both."""

    path: str
    where: str
    message: str


@dataclass(frozen=True)
class Catalogue:
    """The loaded lessons in order (``order``, then id) and the files refused."""

    lessons: tuple[Lesson, ...]
    errors: tuple[LoadError, ...]

    def get(self, lesson_id: str) -> Lesson | None:
        """The lesson with this id, or None."""
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)

    def by_topic(self) -> dict[str, list[Lesson]]:
        """The lessons grouped by course topic, in order."""
        out: dict[str, list[Lesson]] = {}
        for lesson in self.lessons:
            out.setdefault(lesson.topic, []).append(lesson)
        return out


def load_folder(folder: str | os.PathLike) -> Catalogue:
    """Every ``*.toml`` lesson file in ``folder``, checked; refused files become ``LoadError``s (never raises).

    A file's ``id`` must be unique; its message reads "<path>: <field>: <problem>".
    """
    folder = Path(folder)
    lessons, errors, seen = [], [], {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        shown = _shown(path)
        try:
            lesson = _load(path, shown)
            if lesson.id in seen:
                raise LessonError("id", f"{lesson.id!r} is already the id of {seen[lesson.id]}")
        except LessonError as exc:
            errors.append(LoadError(shown, exc.where, f"{shown}: {exc}"))
            continue
        seen[lesson.id] = shown
        lessons.append(lesson)
    lessons.sort(key=lambda lesson: (lesson.order, lesson.id))
    return Catalogue(tuple(lessons), tuple(errors))


def _load(path: Path, shown: str) -> Lesson:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LessonError("", f"cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise LessonError("", f"is {len(raw):,} bytes; a lesson file is at most {MAX_FILE_BYTES:,}")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LessonError("", f"is not valid TOML ({exc})") from None
    return parse_lesson(doc, shown)


def _shown(path: Path) -> str:
    """The path as messages show it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(FOLDER.parent))
    except ValueError:
        return str(path)


_cached: Catalogue | None = None
_lock = threading.Lock()


def catalogue(reload: bool = False) -> Catalogue:
    """The lessons of the repository's ``lessons/`` folder, loaded once per process (``reload`` loads again); each
    load logs every refused file (a warning naming its path and field). app.py calls it as the server's first page
    run starts, so a broken file shows in the server's log at once while the other lessons load.

    Returns:
        ``Catalogue``: ``lessons`` (each with ``id``, ``title``, ``topic``, ``minutes``, ``summary``, ``steps``
        (each with ``check``, or None), ``challenge``) and ``errors`` (the files refused, with path and field).
    """
    global _cached
    with _lock:
        if _cached is None or reload:
            _cached = load_folder(FOLDER)
            for error in _cached.errors:
                _log.warning("lesson file refused: %s", error.message)
        return _cached
