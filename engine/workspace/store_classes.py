"""The store's class methods: a teacher's class, its members, pushes and board (the work is in ``classes``)."""
from __future__ import annotations

from engine.workspace import checks, classes
from engine.workspace.records import Push


class ClassMethods:
    """Mixed into ``Store``: each method opens its own short session through ``classes`` with the store itself."""

    def create_class(self, name: str, ip: str | None = None) -> tuple[str, str]:
        """A class: returns (teacher token, join code). See ``classes``.

        Raises:
            CapReached: ``limits.MAX_CLASSES_PER_IP_HOUR`` classes were made from ``ip`` in the last hour.
        """
        return classes.create(self, name, checks.ip_digest(ip))

    def join_class(self, code: str, display_name: str, token: str, ip: str | None = None) -> None:
        """Put a workspace in the class with this join code, under the name its teacher sees.

        Raises:
            TooManyTries: too many wrong codes lately from this workspace or ``ip`` (``limits.JOIN_WRONG_...``).
        """
        classes.join(self, code, display_name, token, checks.ip_digest(ip))

    def class_poll(self, token: str) -> tuple[str | None, Push | None]:
        """A member's class name (None once out of it) and its new push, in one query (``classes.poll``)."""
        return classes.poll(self, token)

    def leave_class(self, token: str) -> None:
        """Take a workspace out of its class (``classes.leave``)."""
        classes.leave(self, token)

    def remove_member(self, teacher_token: str, member_key: str) -> None:
        """The teacher takes a member out of their class (``classes.remove``); UnknownToken if not in it."""
        classes.remove(self, teacher_token, member_key)

    def class_view(self, teacher_token: str, since: float | None = None) -> classes.ClassView:
        """The teacher's view of a class: members changed since ``since`` (a previous view's ``as_of``)."""
        return classes.view(self, teacher_token, since)

    def class_board(self, teacher_token: str) -> str:
        """The token of the class's read-only board (the same each call; it opens no teacher's action)."""
        return classes.board(self, teacher_token)

    def board_view(self, board_token: str, since: float | None = None) -> classes.ClassView:
        """``class_view`` through the board's token."""
        return classes.board_view(self, board_token, since)

    def member_snapshot(self, teacher_token: str, member_key: str, ip: str | None = None) -> str:
        """A read-only snapshot of a class member's workspace (``Member.key``) for its teacher; its token.
        ``ip``: the teacher's address, counted towards the hourly cap like ``create``."""
        return classes.member_snapshot(self, teacher_token, member_key, ip)

    def push(self, teacher_token: str, spec: dict, settings: dict | None = None) -> int:
        """Offer a network (and settings) to every member; returns the new push version."""
        return classes.push(self, teacher_token, spec, settings)
