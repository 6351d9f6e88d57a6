"""Which beads of a run cannot start, and why: ``mayor sling --dry-run`` names them instead of
refusing the whole run, and the real run can refuse with the same list up front."""

from __future__ import annotations

from collections.abc import Iterable

from beads.models import Bead
from supervisor.errors import MayorError
from supervisor.repo import Repo


def unrunnable(repo: Repo, beads: Iterable[Bead], agent_override: str | None) -> list[tuple[str, str]]:
    """(bead id, reason) for each of ``beads`` whose agent cannot run here: not defined, an
    unknown kind, a missing key or executable. The agent is ``agent_override`` (``--agent``), else
    the bead's, else the config's default; each agent is checked once."""
    reasons: dict[str, str | None] = {}
    found = []
    for bead in beads:
        name = agent_override or bead.agent or repo.config.agent
        if name not in reasons:
            reasons[name] = agent_problem(repo, name)
        reason = reasons[name]
        if reason is not None:
            found.append((bead.id, reason))
    return found


def agent_problem(repo: Repo, name: str) -> str | None:
    """Why the agent ``name`` cannot run here, or None when it can."""
    from supervisor.agents import adapter_for, check_runnable, resolve_agent

    unknown = repo.config.unknown_agent(name)
    if unknown is not None:
        return unknown
    try:
        config = resolve_agent(repo.config, name)
        adapter_for(config.kind)
        check_runnable(name, config)
    except MayorError as exc:
        return str(exc)
    return None


def describe(found: list[tuple[str, str]]) -> str:
    """One message for the beads that cannot run, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for bead_id, reason in found:
        by_reason.setdefault(reason, []).append(bead_id)
    return "; ".join(f"{', '.join(ids)}: {reason}" for reason, ids in by_reason.items())
