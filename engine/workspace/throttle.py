"""Rates kept in this process's memory: wrong join codes (per workspace, per address) and classes made per address.

A join code is one of 31⁶ ≈ 8.9×10⁸; unthrottled, a script tried about 3,300 a second. Counts are keyed by
digests only (of the workspace token, of the address) and forgotten once their window has passed; a restart
forgets them too, which costs a guesser a restart's worth of tries, not the code space.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque

MINUTE, HOUR = 60.0, 3600.0
_SWEEP_AT = 10_000  # keys kept before stale ones are swept, so a flood of addresses cannot grow memory for good


class Window:
    """Events per key within the last ``span`` seconds, and keys blocked until a time."""

    def __init__(self, span: float):
        self.span = span
        self._events: dict[str, deque] = {}
        self._until: dict[str, float] = {}

    def count(self, key: str, now: float) -> int:
        """Events of ``key`` in the window ending now."""
        events = self._events.get(key)
        while events and events[0] <= now - self.span:
            events.popleft()
        return len(events) if events else 0

    def wait(self, key: str, now: float) -> float:
        """Seconds ``key`` is still blocked (0 when it is not)."""
        return max(0.0, self._until.get(key, 0.0) - now)

    def add(self, key: str, now: float, limit: float = math.inf, block: float = 0.0) -> None:
        """One event; at ``limit`` events in the window the key is blocked for ``block`` seconds."""
        if len(self._events) > _SWEEP_AT:
            self._sweep(now)
        self._events.setdefault(key, deque()).append(now)
        if self.count(key, now) >= limit:
            self._until[key] = now + block
            self._events[key].clear()  # the block is the penalty: afterwards the key starts afresh

    def _sweep(self, now: float) -> None:
        for key in [k for k in self._events if not self.count(k, now)]:
            del self._events[key]
        for key in [k for k, until in self._until.items() if until <= now]:
            del self._until[key]


class Throttle:
    """The store's rates; ``clock`` is replaceable for tests (monotonic: a clock change neither blocks nor frees)."""

    def __init__(self):
        self.clock = time.monotonic
        self.lock = threading.Lock()
        self.join_workspaces = Window(MINUTE)
        self.join_addresses = Window(MINUTE)
        self.classes = Window(HOUR)

    def join_wait(self, workspace: str, address: str | None) -> int:
        """Whole seconds before this workspace (or address) may try another join code; 0 when it may now."""
        with self.lock:
            now = self.clock()
            waits = [self.join_workspaces.wait(workspace, now)]
            if address:
                waits.append(self.join_addresses.wait(address, now))
        return math.ceil(max(waits))

    def wrong_code(self, workspace: str, address: str | None, per_workspace: int, per_address: int,
                   block: float) -> None:
        """Count a wrong join code against the workspace and its address."""
        with self.lock:
            now = self.clock()
            self.join_workspaces.add(workspace, now, per_workspace, block)
            if address:
                self.join_addresses.add(address, now, per_address, block)

    def classes_made(self, address: str) -> int:
        """Classes made from this address in the last hour."""
        with self.lock:
            return self.classes.count(address, self.clock())

    def class_made(self, address: str) -> None:
        """Count a class made from this address."""
        with self.lock:
            self.classes.add(address, self.clock())
