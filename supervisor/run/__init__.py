"""Running the plan: ``mayor sling`` and what it is made of (see ``docs/architecture.md``).

:func:`sling` is the library entry point that ``mayor sling``, ``mayor review`` and ``mayor demo``
share; modules are imported when a run starts, so ``import supervisor.run`` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supervisor.repo import Repo
    from supervisor.run.context import Options


def sling(repo: Repo, options: Options, *, quiet: bool = False) -> int:
    """Run the beads that ``options`` select until none is left to run or land; the exit code.

    Shows the run as it goes (the live table on a terminal, a line per event otherwise) unless
    ``quiet`` or a dry run."""
    from supervisor.run.context import RunContext
    from supervisor.run.scheduler import Scheduler

    scheduler = Scheduler(RunContext(repo, options))
    if options.dry_run or quiet:
        return scheduler.run()
    from supervisor.views.live import watch

    with watch(repo):
        return scheduler.run()
