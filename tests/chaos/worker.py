"""Run one `kakunin` command against a `FaultyStore`: `python -m tests.chaos.worker intake run`.

Environment: `KAKUNIN_HOME` (the store), `CHAOS_KILL_AT` (the operation to die before; 0 or
unset: none), `CHAOS_LOG` (a file listing every fault point passed), `CHAOS_SHIFT_DAYS`
(move Kakunin's clock, so a retention run two years on needs no `--as-of`).
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path


def main() -> None:
    import kakunin.storage
    from kakunin import clock
    from kakunin.cli import main as cli_main
    from tests.chaos.faults import FaultyStore

    kill_at = int(os.environ.get("CHAOS_KILL_AT") or 0)
    log = Path(os.environ["CHAOS_LOG"]) if os.environ.get("CHAOS_LOG") else None

    def open_store(home: str | None = None) -> FaultyStore:
        return FaultyStore(Path(home or os.environ["KAKUNIN_HOME"]), kill_at=kill_at, log=log)

    kakunin.storage.open_store = open_store  # type: ignore[assignment]
    shift = timedelta(days=int(os.environ.get("CHAOS_SHIFT_DAYS") or 0))
    if shift:
        real_today, real_now = clock.today, clock.now_utc

        def today() -> date:
            return real_today() + shift

        def now_utc() -> datetime:
            return real_now() + shift

        clock.today, clock.now_utc = today, now_utc  # type: ignore[assignment]
    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
