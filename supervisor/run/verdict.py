"""The end of a run: what landed, what failed, what waits and why, on stderr; the exit code."""

from __future__ import annotations

from beads import graph
from beads.models import Bead
from supervisor.output import say
from supervisor.pricing import usd
from supervisor.run.context import RunContext


def verdict(ctx: RunContext) -> int:
    """0 when every bead this run took landed (or is done); 1 otherwise, or when the budget stopped it."""
    beads = ctx.store.load()
    touched = ctx.state.touched()
    taken = [beads[i] for i in sorted(touched) if i in beads]
    taken += [b for b in beads.values() if ctx.opts.matches(b) and b.status == "open" and b.id not in touched]
    failed = [b for b in taken if b.status == "failed"]
    waiting = [b for b in taken if b.status in ("open", "review", "queued")]
    _explain(ctx, beads, taken, failed, waiting)
    landed = sum(1 for b in taken if b.landed and not b.report_only)
    reviewed = sum(1 for b in taken if b.landed and b.report_only)
    done = f"{landed} landed" + (f", {reviewed} reviewed" if reviewed else "")
    if reviewed and not landed:
        done = f"{reviewed} reviewed"
    say(f"mayor: {done}, {len(failed)} failed, {len(waiting)} not landed{_spend(ctx)}")
    stop = ctx.state.budget_stop
    if stop:
        say(f"mayor: the budget stopped this run ({stop})")
        return 1
    return 1 if failed or waiting else 0


def _spend(ctx: RunContext) -> str:
    """``; N tokens, $X`` when some agent reported usage; nothing when none did (command agents)."""
    spent = ctx.budget.total()
    if not spent.total_tokens and not spent.cost_usd and not ctx.budget.unpriced:
        return ""
    cost = usd(spent.cost_usd or 0.0) + (" + unpriced usage" if ctx.budget.unpriced else "")
    return f"; {spent.total_tokens} tokens, {cost}"


def _explain(
    ctx: RunContext, beads: dict[str, Bead], taken: list[Bead], failed: list[Bead], waiting: list[Bead]
) -> None:
    for bead_id, detail in ctx.state.unlanded().items():
        say(f"not landed: {bead_id}: {detail}; it stays queued: `mayor sling` again lands it")
    for bead in taken:
        if bead.status == "review":
            say(
                f"waiting for approval: {bead.id} {bead.title}: `mayor approve {bead.id}` or "
                f"`mayor reject {bead.id} --reason ...`"
            )
    for bead in failed:
        say(f"failed: {bead.id} {bead.title}: {bead.error}")
    blocked = {b.id: holds for b, holds in graph.blocked(beads)}
    for bead in [b for b in waiting if b.status == "open"]:
        reason = "; ".join(h.describe() for h in blocked.get(bead.id, [])) or f"status {bead.status}"
        say(f"not landed: {bead.id} {bead.title}: {reason}")
