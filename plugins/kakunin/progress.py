"""Progress of long runs (intake, retention, verify, the demo seed), reported through a callback.

The contract, for a core function that takes `progress: Progress | None`: call
`progress(done, total, label)` whenever a unit of work finishes (`done` counts up to
`total`, `label` names what is being worked on and carries no personal data). The core
never prints and never imports a terminal library; the CLI decides how to show it (a rich
bar on a terminal, `PlainProgress` lines otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    def __call__(self, done: int, total: int, label: str) -> None: ...


def report(progress: Progress | None, done: int, total: int, label: str) -> None:
    """Call `progress` if there is one (so a core loop needs one line, not an `if`)."""
    if progress is not None:
        progress(done, total, label)


class PlainProgress:
    """Log lines for a non-terminal: the first update, then at most one per `interval` seconds, and each end.

    `kakunin intake run: 3/12 (25%) jp_customer_leads/20261126T...: accuracy`, on the stream
    given (stderr), so stdout stays clean for `--json`; a stage that reaches its total always
    gets a line.
    """

    def __init__(
        self,
        title: str,
        stream: TextIO,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.title, self.stream, self.interval, self.clock = title, stream, interval, clock
        self._last: float | None = None

    def __call__(self, done: int, total: int, label: str) -> None:
        now = self.clock()
        if self._last is not None and done < total and now - self._last < self.interval:
            return
        self._last = now
        count = f"{done}/{total} ({100 * done // total}%) " if total else ""
        self.stream.write(f"{self.title}: {count}{label}\n")
        self.stream.flush()
