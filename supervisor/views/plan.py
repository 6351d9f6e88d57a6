"""The plan as ``mayor show``, ``ready`` and ``graph`` show it: one bead as text, the ready beads
whole, and the bead graph drawn as a tree, Graphviz dot or Mermaid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from beads import graph
from beads.errors import MayorError, NotFound
from beads.models import Bead, BeadSummary
from beads.store import Store


def bead_text(bead: Bead) -> str:
    """``mayor show``: the bead's title, status, links, description, acceptance and attempts."""
    lines = [f"{bead.id}  {bead.title}", f"status: {bead.status}   priority: {bead.priority}   kind: {bead.kind}"]
    if bead.labels:
        lines.append(f"labels: {', '.join(bead.labels)}")
    if bead.deps:
        lines.append(f"deps: {', '.join(bead.deps)}")
    lines += [f"link: {link.type} {link.id}{' (external)' if link.external else ''}" for link in bead.links]
    if bead.estimate_minutes is not None:
        lines.append(f"estimate: {bead.estimate_minutes} min")
    if bead.description:
        lines += ["", bead.description]
    if bead.acceptance:
        lines += ["", "acceptance:"]
        lines += [f"  - {c.text}" + (f"  [check: {c.check}]" if c.check else "") for c in bead.acceptance]
    if bead.attempts:
        lines += ["", "attempts:"]
        lines += [f"  {a.n}. {a.outcome or 'running'}" + (f": {a.error}" if a.error else "") for a in bead.attempts]
    if bead.error:
        lines += ["", f"error: {bead.error}"]
    return "\n".join(lines)


def ready_whole(
    store: Store, found: Sequence[BeadSummary], length: Mapping[str, int]
) -> tuple[list[Bead], Mapping[str, int]]:
    """The whole beads of the ready ``found`` and their critical paths; when a writer changed some of
    them meanwhile, the ready beads of one full read (checked as a graph) instead."""
    beads = whole(store, found)
    if beads is not None:
        return beads, length
    every = store.load()
    graph.validate(every)
    paths = graph.critical_paths(every)
    return graph.ready(every, paths=paths), paths


def whole(store: Store, summaries: Sequence[BeadSummary]) -> list[Bead] | None:
    """The whole beads of ``summaries``, or None when one is gone or no longer matches."""
    try:
        beads = [store.get(s.id) for s in summaries]
    except NotFound:
        return None
    return beads if all(BeadSummary.of(b) == s for b, s in zip(beads, summaries, strict=False)) else None


def render_graph(beads: Mapping[str, Bead | BeadSummary], fmt: str) -> str:
    if fmt == "dot":
        return _dot(beads)
    if fmt == "mermaid":
        return _mermaid(beads)
    if fmt == "tree":
        return _tree(beads)
    raise MayorError(f"unknown graph format {fmt!r}; one of tree, dot, mermaid")


def _dot(beads: Mapping[str, Bead | BeadSummary]) -> str:
    lines = ["digraph beads {", "  rankdir=LR;"]
    for bead_id in graph.topological_order(beads):
        bead = beads[bead_id]
        label = f"{bead.id}\\n{bead.title[:40]}".replace('"', "'")
        lines.append(f'  "{bead.id}" [label="{label}", tooltip="{bead.status}"];')
        lines += [f'  "{dep}" -> "{bead.id}";' for dep in bead.deps]
    lines.append("}")
    return "\n".join(lines)


def _mermaid(beads: Mapping[str, Bead | BeadSummary]) -> str:
    def node(bead_id: str) -> str:
        return "n_" + "".join(ch if ch.isalnum() else "_" for ch in bead_id)

    lines = ["graph TD"]
    for bead_id in graph.topological_order(beads):
        bead = beads[bead_id]
        title = bead.title[:40].replace('"', "'")
        lines.append(f'  {node(bead.id)}["{bead.id}: {title} ({bead.status})"]')
        lines += [f"  {node(dep)} --> {node(bead.id)}" for dep in bead.deps]
    return "\n".join(lines)


def _tree(beads: Mapping[str, Bead | BeadSummary]) -> str:
    """Roots (beads with no deps) at the left; under each bead, the beads it unblocks.

    Walked with an explicit stack, so a long chain cannot hit Python's recursion limit.
    """
    users = graph.dependents(beads)
    shown: set[str] = set()
    lines: list[str] = []
    roots = [root for root in graph.topological_order(beads) if not beads[root].deps]
    stack: list[tuple[str, str, bool, int]] = [(root, "", True, 0) for root in reversed(roots)]
    while stack:
        bead_id, prefix, last, depth = stack.pop()
        bead = beads[bead_id]
        branch = "" if depth == 0 else ("└── " if last else "├── ")
        seen = bead_id in shown
        lines.append(f"{prefix}{branch}{bead.id} [{bead.status}] {bead.title}" + (" (above)" if seen else ""))
        if seen:
            continue
        shown.add(bead_id)
        children = sorted(users[bead_id])
        inner = prefix if depth == 0 else prefix + ("    " if last else "│   ")
        stack += [(c, inner, i == len(children) - 1, depth + 1) for i, c in reversed(list(enumerate(children)))]
    return "\n".join(lines)
