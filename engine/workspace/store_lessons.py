"""The store's lesson methods: progress checked on the stored workspace, and a class's lessons (the work is in
``progress`` and ``assignments``)."""
from __future__ import annotations

from engine.lessons import Catalogue, Challenge, ChallengeResult, Verdict
from engine.workspace import assignments, progress
from engine.workspace.progress import Assignments, Entry, Grid, Guess, Progress


class LessonMethods:
    """Mixed into ``Store``. ``catalogue``: the lessons to use (None: ``engine.lessons.catalogue()``)."""

    def tick_step(self, token: str, lesson_id: str, step: int, catalogue: Catalogue | None = None) -> Verdict:
        """Run step ``step`` (0-based) of a lesson's check on the stored workspace; a pass is kept as a tick
        with what passed it (run numbers, the sentence). Nothing is stored when it fails.

        Raises:
            LessonError: no such lesson or step, or the step has no check. ReadOnlyWorkspace, UnknownToken.
        """
        return progress.tick(self, token, lesson_id, step, catalogue)

    def record_prediction(self, token: str, lesson_id: str, step: int, answer,
                          catalogue: Catalogue | None = None) -> Guess:
        """Keep a step's prediction (a choice's text, or a number) with whether it is right; only the first.

        Raises:
            LessonError: no prediction there, or an answer of the wrong kind. WorkspaceError: already predicted,
                or the step is already ticked.
        """
        return progress.predict(self, token, lesson_id, step, answer, catalogue)

    def post_challenge(self, token: str, key: str, run_number: int,
                       catalogue: Catalogue | None = None) -> ChallengeResult:
        """Judge stored run ``run_number`` against challenge ``key`` (a lesson's id, or a custom key of the
        workspace's class); a valid result better than the student's best becomes it."""
        return progress.post(self, token, key, run_number, catalogue)

    def challenge(self, token: str, key: str, catalogue: Catalogue | None = None) -> Challenge:
        """The challenge a student sees under ``key`` (a lesson's, or their class's custom one)."""
        return progress.challenge_for(self, token, key, catalogue)

    def lesson_progress(self, token: str) -> Progress:
        """The workspace's ticks, predictions and challenge bests."""
        return progress.progress(self, token)

    def assign(self, teacher_token: str, kind: str, ref: str, catalogue: Catalogue | None = None) -> None:
        """Assign a "lesson" (its id) or a "challenge" (a lesson's id, or a custom key) to the class."""
        assignments.assign(self, teacher_token, kind, ref, catalogue)

    def unassign(self, teacher_token: str, kind: str, ref: str) -> None:
        """Take an assignment (or a custom challenge) off the class."""
        assignments.unassign(self, teacher_token, kind, ref)

    def add_challenge(self, teacher_token: str, table: dict) -> str:
        """A custom challenge from the teacher's form (``engine.lessons.FORM``), assigned to the class; its key.

        Raises:
            LessonError: a bad field (named). CapReached: ``limits.MAX_CUSTOM_CHALLENGES``.
        """
        return assignments.add_challenge(self, teacher_token, table)

    def class_assignments(self, teacher_token: str | None = None, token: str | None = None,
                          catalogue: Catalogue | None = None) -> Assignments:
        """The class's lessons and challenges, by the teacher's token or a member's workspace token."""
        return assignments.assignments(self, teacher_token, token, catalogue)

    def progress_grid(self, teacher_token: str, catalogue: Catalogue | None = None) -> Grid:
        """Students × steps of the assigned lessons: "ticked", "predicted" or "not started"."""
        return assignments.grid(self, teacher_token, catalogue)

    def leaderboard(self, teacher_token: str, key: str) -> list[Entry]:
        """An assigned challenge's leaderboard, best first."""
        return assignments.leaderboard(self, teacher_token, key)

    def board_lessons(self, board_token: str, catalogue: Catalogue | None = None) -> tuple[Grid, list]:
        """The class board's view of the lessons, read-only and in one call: the progress grid, and
        ``(Challenge, [Entry])`` for each assigned challenge."""
        return assignments.board(self, board_token, catalogue)
