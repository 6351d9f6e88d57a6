"""``mayor retry ID --note TEXT``: a new attempt now, told what you want done differently."""

from __future__ import annotations

from supervisor.output import say
from supervisor.repo import open_repo


def run(*, bead_id: str, note: str) -> int:
    from supervisor.run.control import retry

    say(f"mayor: {retry(open_repo(), bead_id, note)}")
    return 0
