"""``mayor list``, ``show``, ``ready``, ``blocked``, ``graph`` and ``schema``: reading the plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from beads import graph
from beads.errors import MayorError, NotFound
from beads.models import STATUSES, Bead, BeadSummary, bead_schema
from beads.store import Store
from supervisor.output import print_json, print_table
from supervisor.repo import open_repo


def load_graph() -> dict[str, Bead]:
    """Every bead, checked as a graph (a hand edit may have broken it)."""
    beads = open_repo().store.load()
    graph.validate(beads)
    return beads


def load_summaries() -> dict[str, BeadSummary]:
    """What the graph needs of every bead, checked as a graph; cheaper than :func:`load_graph`."""
    return open_repo().store.summaries()


def _row(bead: Bead) -> list[Any]:
    return [bead.id, bead.status, bead.priority, bead.kind, bead.title, ",".join(bead.labels)]


_COLUMNS = ("id", "status", "pri", "kind", "title", "labels")


def list_beads(*, status: Sequence[str] = (), label: str | None = None, as_json: bool = False) -> int:
    unknown = [s for s in status if s not in STATUSES]
    if unknown:
        raise MayorError(f"unknown status {', '.join(unknown)}; one of: {', '.join(STATUSES)}")
    beads = open_repo().store.load()
    chosen = [
        b
        for b in sorted(beads.values(), key=lambda b: (b.priority, b.created_at, b.id))
        if (not status or b.status in status) and (label is None or label in b.labels)
    ]
    if as_json:
        print_json([b.model_dump(mode="json") for b in chosen])
    else:
        print_table(_COLUMNS, [_row(b) for b in chosen])
    return 0


def show(*, bead_id: str, as_json: bool = False) -> int:
    bead = open_repo().store.get(bead_id)
    if as_json:
        print_json(bead.model_dump(mode="json"))
        return 0
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
    print("\n".join(lines))
    return 0


def ready(*, as_json: bool = False) -> int:
    store = open_repo().store
    summaries = store.summaries()
    length = graph.critical_paths(summaries)
    found = graph.ready(summaries, paths=length)
    if not as_json:
        print_table(("id", "pri", "path", "title"), [[b.id, b.priority, length[b.id], b.title] for b in found])
        return 0
    beads = _whole(store, found)
    if beads is None:  # a writer changed some of them meanwhile: answer from one full read
        every = load_graph()
        length = graph.critical_paths(every)
        beads = graph.ready(every, paths=length)
    print_json([{**b.model_dump(mode="json"), "critical_path_minutes": length[b.id]} for b in beads])
    return 0


def _whole(store: Store, summaries: Sequence[BeadSummary]) -> list[Bead] | None:
    """The whole beads of ``summaries``, or None when one is gone or no longer matches."""
    try:
        beads = [store.get(s.id) for s in summaries]
    except NotFound:
        return None
    return beads if all(BeadSummary.of(b) == s for b, s in zip(beads, summaries, strict=False)) else None


def blocked(*, as_json: bool = False) -> int:
    found = graph.blocked(load_summaries())
    if as_json:
        print_json(
            [
                {
                    "id": bead.id,
                    "title": bead.title,
                    "blocked_by": [{"id": h.dep, "status": h.status, "stuck": h.stuck} for h in holds],
                    "reason": "; ".join(h.describe() for h in holds),
                }
                for bead, holds in found
            ]
        )
    else:
        print_table(
            ("id", "title", "reason"),
            [[bead.id, bead.title, "; ".join(h.describe() for h in holds)] for bead, holds in found],
        )
    return 0


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


def show_graph(*, fmt: str = "tree") -> int:
    print(render_graph(load_summaries(), fmt))
    return 0


def schema() -> int:
    print_json(bead_schema())
    return 0
