"""``mayor logs``: one log of one attempt of a bead (the agent's, its checks' or the gate's)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from beads.errors import MayorError
from supervisor.repo import Repo, open_repo
from supervisor.views.beadfiles import LogKind, attempt_number, log_path, read_from

FOLLOW_POLL_S = 0.25
WHOLE = 1 << 62


def run(
    *, bead_id: str, follow: bool = False, attempt: int | None = None, gate: bool = False, checks: bool = False
) -> int:
    kind: LogKind = "gate" if gate else "checks" if checks else "agent"
    repo = open_repo()
    bead = repo.store.get(bead_id)
    n = attempt_number(bead, attempt)
    path = log_path(repo, bead, kind, n)
    if not path.exists() and not follow:
        raise MayorError(f"{bead_id} attempt {n} has no {path.name} (yet): {path}")
    offset = _print_from(path, 0)
    while follow:
        time.sleep(FOLLOW_POLL_S)
        before = offset
        offset = _print_from(path, offset)
        if offset == before and _over(repo, bead_id, n, kind):
            offset = _print_from(path, offset)  # what came in as it ended
            break
    return 0


def _print_from(path: Path, offset: int) -> int:
    text, offset = read_from(path, offset, limit=WHOLE)
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()
    return offset


def _over(repo: Repo, bead_id: str, n: int, kind: LogKind) -> bool:
    """Whether nothing more will be written to this log: its attempt ended (the agent's log), or
    the bead left the merge queue or a newer attempt began (the checks' and the gate's)."""
    bead = repo.store.get(bead_id)
    this = next(a for a in bead.attempts if a.n == n)
    if kind == "agent":
        return this.ended_at is not None
    return bead.attempts[-1].n != n or bead.status not in ("running", "queued", "review")
