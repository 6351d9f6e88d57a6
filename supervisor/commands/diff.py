"""``mayor diff``: a bead's change against the target (its branch, or its merge commit once landed)."""

from __future__ import annotations

import sys

from supervisor.repo import open_repo
from supervisor.views.beadfiles import diff


def run(*, bead_id: str) -> int:
    repo = open_repo()
    text = diff(repo, repo.store.get(bead_id))
    sys.stdout.write(text + ("\n" if text else ""))
    return 0
