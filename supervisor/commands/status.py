"""``mayor status``: the supervisor, the beads in play and the merge queue, from disk, at any time
(from another terminal during a run too)."""

from __future__ import annotations

import sys

from supervisor.output import print_json
from supervisor.repo import open_repo


def run(*, as_json: bool = False) -> int:
    from supervisor.views.status import plain_lines, render_table, snapshot

    snap = snapshot(open_repo())
    if as_json:
        print_json(snap.to_json())
    elif sys.stdout.isatty():
        from rich.console import Console

        Console().print(render_table(snap))
    else:
        sys.stdout.write("\n".join(plain_lines(snap)) + "\n")
    return 0
