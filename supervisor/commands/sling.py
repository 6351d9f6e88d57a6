"""``mayor sling``: from ready beads to a green target branch."""

from __future__ import annotations

from typing import Any

from supervisor.repo import open_repo


def run(*, quiet: bool = False, **flags: Any) -> int:
    """``flags`` are :meth:`~supervisor.run.context.Options.of`'s keywords (None: not given)."""
    from supervisor.run import sling
    from supervisor.run.context import Options

    repo = open_repo()
    flags["only"] = list(flags.get("only") or ())
    return sling(repo, Options.of(repo.config, **flags), quiet=quiet)
