"""Checks of the run's own commands before the first attempt: a mistake in the config is the
run's error (exit 1, one line that says what to fix), never an attempt charged to a bead.

- ``setup`` runs in the gate's fresh worktree at the target's tip: if it fails there, it would
  fail in every slot.
- the programs the gate and ``setup`` name must exist (in the gate worktree's environment).
- the trap of an editable install in the user's virtualenv: the gate's Python must import the
  project from the tree it tests; if not, a warning says what to set.
"""

from __future__ import annotations

from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.output import say
from supervisor.run.context import RunContext
from supervisor.run.workenv import SETUP_HINT, import_leak, missing_programs, python_packages, worktree_env


def check_commands(ctx: RunContext) -> None:
    config, gate = ctx.repo.config, ctx.opts.gate
    if not gate and not config.setup:
        return
    tip = gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
    worktree = ctx.queue.ensure_worktree(tip)  # runs setup there; SetupFailed is a MayorError
    env = worktree_env(worktree)
    for what, command in (("gate", gate), ("setup", config.setup)):
        missing = missing_programs(command, worktree, env) if command else []
        if missing:
            raise MayorError(
                f"the {what} `{command}` runs {', '.join(missing)}, which is not installed or not on PATH "
                f"in the worktree's environment; fix `{what}` in .mayor/config.toml"
                + (" (or --gate)" if what == "gate" else "")
            )
    leak = import_leak(worktree, python_packages(ctx.repo.root), env) if gate else None
    if leak:
        say(
            f"mayor: warning: the gate's python imports {leak}, outside the candidate it tests, so the gate "
            f"would test your checkout instead of the merge; {SETUP_HINT}"
        )
