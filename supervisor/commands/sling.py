"""``mayor sling``: from ready beads to a green target branch."""

from __future__ import annotations

from collections.abc import Sequence

from supervisor.config import parse_duration
from supervisor.repo import open_repo


def run(
    *,
    jobs: int | None = None,
    target: str | None = None,
    gate: str | None = None,
    agent: str | None = None,
    only: Sequence[str] = (),
    label: str | None = None,
    max_attempts: int | None = None,
    timeout: str | None = None,
    idle_timeout: str | None = None,
    dry_run: bool = False,
    model: str | None = None,
    max_steps: int | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    quiet: bool = False,
) -> int:
    from supervisor.run.scheduler import Options, Supervisor

    repo = open_repo()
    config = repo.config
    options = Options(
        slots=jobs or config.slots,
        target=target or config.target,
        gate=gate if gate is not None else config.gate,
        agent=agent,
        only=list(only),
        label=label,
        max_attempts=max_attempts or config.max_attempts,
        timeout=parse_duration(timeout or config.timeout),
        idle_timeout=parse_duration(idle_timeout or config.idle_timeout),
        dry_run=dry_run,
        merge=config.merge,
        model=model,
        max_steps=max_steps,
        budget_usd=budget_usd if budget_usd is not None else config.budget.usd,
        budget_tokens=budget_tokens if budget_tokens is not None else config.budget.tokens,
    )
    if dry_run or quiet:
        return Supervisor(repo, options).run()
    from supervisor.views.live import watch

    with watch(repo):
        return Supervisor(repo, options).run()
