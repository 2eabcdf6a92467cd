"""What the workspace store refuses, each with a sentence the page can show as it is."""
from __future__ import annotations

from engine.errors import InputError


class WorkspaceError(InputError):
    """Anything the workspace store refuses: every error below is one of these."""


class MalformedToken(WorkspaceError):
    """A workspace or teacher link whose token is not even shaped like one (cut short, edited, empty)."""


class UnknownToken(WorkspaceError):
    """A well-formed token that matches nothing: never created, deleted, or expired."""


class UnknownJoinCode(WorkspaceError):
    """A class join code that matches no class."""


class TooManyTries(WorkspaceError):
    """Too many wrong join codes from this workspace or address lately; ``wait`` is the seconds left."""

    def __init__(self, wait: int):
        super().__init__(f"Too many wrong codes: try again in {wait} s.")
        self.wait = wait


class ReadOnlyWorkspace(WorkspaceError):
    """A write to a snapshot, which is frozen: the student makes their own copy first."""


class CapReached(WorkspaceError):
    """A server cap was reached; ``variable`` names the environment variable that raises it.

    Args:
        what: the sentence saying what is full.
        variable: the ``PLAYGROUND_...`` variable of the cap.
        limit: the cap's current value.
    """

    def __init__(self, what: str, variable: str, limit: int):
        super().__init__(f"{what} (the server's cap is {limit:,}, set by {variable})")
        self.variable = variable
        self.limit = limit


class RunElsewhere(WorkspaceError):
    """A delete of a live run another server is training (a replica): it is kept until that server stops it or
    sends no news of it for ``Store.interrupt_after``."""


class StoreUnavailable(WorkspaceError):
    """The database cannot be reached or written: saving is off, and the session's work stays in memory."""


class BadWorkspaceFile(WorkspaceError):
    """An imported workspace file that was refused; nothing was stored."""


__all__ = ["WorkspaceError", "MalformedToken", "UnknownToken", "UnknownJoinCode", "TooManyTries", "ReadOnlyWorkspace", "CapReached",
           "RunElsewhere", "StoreUnavailable", "BadWorkspaceFile"]
