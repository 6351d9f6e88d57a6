"""Booking what agents spent, and stopping the run when the budget is used up."""

from __future__ import annotations

from pathlib import Path

from beads.models import Bead
from supervisor.agents import Report
from supervisor.events import EventType
from supervisor.output import say
from supervisor.pricing import usd
from supervisor.run.agentproc import AgentProcess
from supervisor.run.beadstate import current, modify
from supervisor.run.context import RunContext


def account(ctx: RunContext, bead: Bead, agent: AgentProcess) -> Report:
    """Read the agent's report and book its usage on the bead and the run, whatever the outcome."""
    ctx.state.agent_ended(bead.id)
    _name, config, adapter = ctx.agent(bead)
    report = adapter.report(agent.run_dir, agent.extra.get("model") or config.model)
    usage = report.usage
    if usage is not None:
        if usage.cost_usd is None and ctx.budget.usd is not None and not ctx.budget.unpriced:
            say(
                f"mayor: warning: {bead.id}'s model has no known price: its tokens count against "
                "--budget-tokens but not against --budget-usd"
            )
        ctx.budget.add(usage)
        n = current(bead).n if bead.attempts else None
        ctx.events.emit(EventType.USAGE, bead.id, n, tokens=usage.total_tokens, cost_usd=usage.cost_usd)

        def book(b: Bead) -> None:
            if b.attempts:
                current(b).usage = usage
            b.usage = b.usage + usage

        modify(ctx.store, bead.id, book)
    check_budget(ctx)
    return report


def check_budget(ctx: RunContext) -> bool:
    """True once the budget is spent. The first thread to find it spent trips it (under the run
    state's lock), emits ``budget_stopped`` and says so; every other caller only gets True."""
    if ctx.state.budget_stop is not None:
        return True
    running = ctx.state.running_dirs()
    reason = ctx.budget.exceeded(list(running.values()))
    if reason is None:
        return False
    _trip(ctx, reason, running)
    return True


def stopped_by_run_budget(ctx: RunContext, agent: AgentProcess, report: Report) -> bool:
    """The agent spent up to a per-attempt cap that came only from what was left of the run's
    budget: the run's budget stopped it (the run stops; the bead stays open, the attempt is not a
    failure). Trips the budget if no other check has yet."""
    cap = agent.extra.get("run_budget_cap_usd")
    spent = report.usage.cost_usd if report.usage is not None else None
    if not isinstance(cap, int | float) or spent is None or spent < cap:
        return False
    total = ctx.budget.total().cost_usd or 0.0
    _trip(ctx, f"the budget of {usd(ctx.budget.usd or 0.0)} is spent ({usd(total)})", ctx.state.running_dirs())
    return True


def _trip(ctx: RunContext, reason: str, running: dict[str, Path]) -> None:
    if ctx.state.trip_budget(reason):
        ctx.events.emit(EventType.BUDGET_STOPPED, None, None, reason=reason, running=sorted(running))
        say(
            f"mayor: {reason}: no new bead is slung; the {len(running)} running agent(s) are stopped "
            "and their beads stay open for the next run"
        )
