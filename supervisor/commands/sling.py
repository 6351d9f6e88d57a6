"""``mayor sling``: from ready beads to a green target branch."""

from __future__ import annotations

from collections.abc import Sequence

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
    executor: str | None = None,
    ray_address: str | None = None,
) -> int:
    from supervisor.run import sling
    from supervisor.run.context import Options

    repo = open_repo()
    options = Options.of(
        repo.config,
        jobs=jobs,
        target=target,
        gate=gate,
        agent=agent,
        only=list(only),
        label=label,
        max_attempts=max_attempts,
        timeout=timeout,
        idle_timeout=idle_timeout,
        dry_run=dry_run,
        model=model,
        max_steps=max_steps,
        budget_usd=budget_usd,
        budget_tokens=budget_tokens,
        executor=executor,
        ray_address=ray_address,
    )
    return sling(repo, options, quiet=quiet)
