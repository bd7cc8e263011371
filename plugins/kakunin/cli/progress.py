"""How the CLI shows a core function's progress: a rich bar on a terminal, plain lines elsewhere.

Both go to stderr only, so `--json` output on stdout stays one clean document. Off a terminal
(a log file, CI, a pipe) a line is written at the start, then at most every
`KAKUNIN_PROGRESS_SECONDS` seconds (default 5), and at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kakunin.errors import InputError
from kakunin.progress import PlainProgress, Progress

INTERVAL_ENV = "KAKUNIN_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 5.0


def _interval() -> float:
    raw = os.environ.get(INTERVAL_ENV) or ""
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InputError(f"{INTERVAL_ENV} must be a number of seconds (0 or more); found {raw!r}")
    return value


@contextmanager
def shown(title: str) -> Iterator[Progress]:
    """A progress callback for `title` (`kakunin intake run`), shown on stderr while the block runs."""
    interval = _interval()
    if not sys.stderr.isatty():
        yield PlainProgress(title, sys.stderr, interval=interval)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[label]}"),
    )
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(title, total=None, label="")

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, label=label)

        yield update
