"""Saved workspaces: a student's network, settings and runs in a database, found again from a link's token.

A Streamlit session ends with its websocket (a reload, a new tab); a workspace does not. ``get_store()`` is the
process-wide ``Store`` (SQLAlchemy, SQLite by default, PostgreSQL by ``PLAYGROUND_DATABASE_URL``; the schema is
migrated with Alembic when it opens); ``get_flusher()`` saves runs from a background thread so training never
waits on the database.

- ``Store``: ``create``, ``open`` -> ``Workspace``, ``save``, ``model_weights``, ``save_run``, ``delete_run``,
  ``run_blobs``, ``snapshot`` (read-only), ``copy``, ``export_zip``/``import_zip`` (JSON + safetensors, checked),
  ``create_class``, ``join_class``, ``leave_class``, ``remove_member``, ``class_poll``, ``class_view`` -> ``ClassView``,
  ``class_board`` and ``board_view`` (read-only), ``member_snapshot``, ``push``, ``expire``; ``drawn_runs``: the
  few runs of a member a class chart draws (``limits.MAX_CLASS_RUNS``; curves thinned to ``MAX_CLASS_POINTS``).
- Lessons (``store_lessons``; checks from ``engine.lessons``): ``tick_step(token, lesson, step) -> Verdict`` (the
  step's check run on the stored runs; a pass is kept with what passed it), ``record_prediction(token, lesson, step,
  answer) -> Guess`` (the first only), ``post_challenge(token, key, run) -> ChallengeResult`` (a better valid result
  becomes the best), ``challenge(token, key)``, ``lesson_progress(token) -> Progress`` (``ticks``/``predictions`` by
  (lesson, step), ``bests`` by challenge: ``Tick``, ``Guess``, ``Best``; ``status(lesson, step)``); a class's
  ``assign``/``unassign(teacher, kind, ref)``, ``add_challenge(teacher, form) -> key``, ``class_assignments(teacher_token
  or token) -> Assignments``, ``progress_grid(teacher) -> Grid`` (``GridRow``s), ``leaderboard(teacher, key) ->
  [Entry]``; ``board_lessons(board) -> (Grid, [(Challenge, [Entry])])``, the board's read-only view. Progress goes along in snapshots, copies and workspace files (imported: marked, never ranked).
- ``RunRecord``: one run (records, results, weights, optimiser state, the page's own ``context``); ``records.RUN_STATES``
  are the engine's plus "interrupted" (a live run whose server stopped flushing it for ``Store.interrupt_after``,
  ``limits.INTERRUPT_AFTER``). ``Store.server_id`` (set by the app) is written with each run as ``RunRecord.server``;
  ``RunRecord.elsewhere(server_id)``: a live run another server is training (a replica shows it, never resumes it).
- ``plain_part(value)`` / ``from_jsonable(value)``: a run's context as JSON (arrays tagged; models and tensors
  left out) and back.
- ``readable_results(value, number)`` / ``readable_context(value, number)`` / ``readable_model(value)``: stored
  results, contexts and model descriptions of the shape pages write, else None ({} for the model): views never
  raise on what an old import stored; ``MAX_WRONG``.
- ``python -m engine.workspace.migrate``: bring the database to the newest schema and exit (a deployment's Job).
- ``Flusher``: ``submit(token, run)`` (O(1), coalescing), ``flush(timeout)``, ``last_error``, ``error_for(token)``.
- Errors: ``WorkspaceError`` (an ``engine.InputError``) and its kinds: ``MalformedToken``, ``UnknownToken``,
  ``UnknownJoinCode``, ``TooManyTries`` (``.wait``), ``ReadOnlyWorkspace``, ``CapReached`` (``.variable``, ``.limit``),
  ``RunElsewhere`` (a delete of a live run another server trains), ``StoreUnavailable``
  ("saving is off, your work stays in memory"), ``BadWorkspaceFile``.
- Caps (``engine.limits``): ``MAX_WORKSPACES_PER_IP_HOUR``, ``MAX_CLASSES_PER_IP_HOUR``, ``JOIN_WRONG_...``, ``MAX_RUNS_PER_WORKSPACE``, ``MAX_WORKSPACE_BYTES``,
  ``WORKSPACE_DAYS``.
"""
from engine.workspace.checks import MAX_WRONG, readable_context, readable_model, readable_results
from engine.workspace.classes import drawn_runs
from engine.workspace.columns import from_jsonable, plain_part
from engine.workspace.errors import (BadWorkspaceFile, CapReached, MalformedToken, ReadOnlyWorkspace,
                                     RunElsewhere, StoreUnavailable, TooManyTries, UnknownJoinCode, UnknownToken,
                                     WorkspaceError)
from engine.workspace.flusher import Flusher, get_flusher
from engine.workspace.progress import Assignments, Best, Entry, Grid, GridRow, Guess, Progress, Tick
from engine.workspace.records import RunRecord
from engine.workspace.store import Store, get_store

__all__ = ["Store", "get_store", "RunRecord", "Flusher", "get_flusher", "WorkspaceError", "MalformedToken",
           "UnknownToken", "UnknownJoinCode", "TooManyTries", "ReadOnlyWorkspace", "CapReached", "RunElsewhere",
           "StoreUnavailable", "BadWorkspaceFile", "plain_part", "from_jsonable", "readable_results", "readable_context",
           "readable_model", "MAX_WRONG", "drawn_runs", "Progress", "Tick", "Guess", "Best", "Assignments", "Grid",
           "GridRow", "Entry"]
