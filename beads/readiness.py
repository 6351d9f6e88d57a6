"""Mayor's readiness of beads imported from beads, made the same as ``bd ready``'s.

:func:`beads.bd.verdicts` says what beads makes of each issue; :func:`apply` turns a verdict into
what :func:`beads.graph.ready` reads: the blockers that are not already deps become deps (named,
with how they block, in ``source.derived_deps``), and an issue that beads would not offer for
another reason is *held*: status ``cancelled`` (never started, never landed, so it still blocks
its dependents; ``mayor reopen`` offers it) with the reason in ``source.held``. Mayor's own beads
and its lifecycle are untouched: nothing here runs outside an import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from beads import bd, graph
from beads.models import Bead, Status

HELD_STATUS: Status = "cancelled"
"""The bead status of an issue that ``bd ready`` would not offer: not started, not landed."""


def apply(bead: Bead, verdict: bd.Verdict) -> None:
    """Make mayor's readiness of ``bead`` beads' own: derived deps, and a hold when needed."""
    derived = {dep: how for dep, how in verdict.blockers.items() if dep not in bead.deps and dep != bead.id}
    if derived:
        bead.deps.extend(derived)
        bead.source["derived_deps"] = derived
    held = verdict.held
    if held is None and verdict.blockers and not any(dep != bead.id for dep in verdict.blockers):
        held = "blocked by itself through a parent"
    if held is not None and bead.status == "open":
        hold(bead, held)


def hold(bead: Bead, reason: str) -> None:
    bead.status = HELD_STATUS
    bead.source["held"] = reason


def break_derived_cycles(beads: Mapping[str, Bead], existing: Mapping[str, Bead]) -> None:
    """Drop the derived deps that close a cycle (beads never sees those: they are not its edges)
    and hold their beads instead, which beads counts as blocked anyway."""
    while cycle := graph.find_cycle({**existing, **beads}):
        after = {bead_id: cycle[(n + 1) % len(cycle)] for n, bead_id in enumerate(cycle)}
        culprit = next((i for i in cycle if i in beads and after[i] in beads[i].source.get("derived_deps", {})), None)
        if culprit is None:
            return  # a cycle of the input's own edges: _check_cycle names it
        bead = beads[culprit]
        derived = bead.source.pop("derived_deps")
        bead.deps = [dep for dep in bead.deps if dep not in derived]
        if bead.status == "open":
            hold(bead, f"blocked through {', '.join(sorted(set(derived.values())))} (kept as no deps: a cycle)")


def notes(beads: Sequence[Bead]) -> list[str]:
    """Say how many beads are held, and why, and how many deps were derived."""
    out: list[str] = []
    held = Counter(_why(b.source["held"]) for b in beads if "held" in b.source)
    if held:
        counts = ", ".join(f"{n} {why}" for why, n in sorted(held.items()))
        out.append(
            f"{held.total()} bead(s) that `bd ready` would not offer imported as {HELD_STATUS} ({counts}); "
            "source.held says why, `mayor reopen ID` offers one"
        )
    derived = sum(len(b.source.get("derived_deps", {})) for b in beads)
    if derived:
        out.append(f"{derived} dep(s) derived from parent-child, waits-for and conditional-blocks edges")
    return out


def _why(reason: str) -> str:
    """A held reason without its ids and dates, to count alike ones together."""
    if reason.startswith("parent "):
        return "deferred parent"
    return reason.split(" until ")[0].split(" (")[0]
