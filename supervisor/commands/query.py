"""``mayor list``, ``show``, ``ready``, ``blocked``, ``graph`` and ``schema``: reading the plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beads import graph
from beads.models import STATUSES, Bead, BeadSummary, bead_schema
from supervisor.errors import UsageError
from supervisor.output import print_json, print_table, say
from supervisor.repo import Repo, open_repo
from supervisor.views.plan import bead_text, ready_whole, render_graph


def load_summaries() -> dict[str, BeadSummary]:
    """What the graph needs of every bead, checked as a graph; cheaper than loading every bead."""
    return open_repo().store.summaries()


def _row(bead: Bead) -> list[Any]:
    return [bead.id, bead.status, bead.priority, bead.kind, bead.title, ",".join(bead.labels)]


_COLUMNS = ("id", "status", "pri", "kind", "title", "labels")


def list_beads(
    *,
    status: Sequence[str] = (),
    label: str | None = None,
    kind: str | None = None,
    every: bool = False,
    as_json: bool = False,
) -> int:
    """The beads, by priority; report-only beads (``mayor review``'s) only with ``every`` or when
    ``kind`` names their kind, so five a review run do not crowd out the plan."""
    unknown = [s for s in status if s not in STATUSES]
    if unknown:
        raise UsageError(f"--status {', '.join(unknown)}: no such status; one of: {', '.join(STATUSES)}")
    beads = open_repo().store.load()
    matching = [
        b
        for b in sorted(beads.values(), key=lambda b: (b.priority, b.created_at, b.id))
        if (not status or b.status in status)
        and (label is None or label in b.labels)
        and (kind is None or b.kind == kind)
    ]
    chosen = [b for b in matching if every or kind is not None or not b.report_only]
    hidden = len(matching) - len(chosen)
    if hidden:
        say(f"({hidden} review bead(s) not listed: mayor list --all, or --kind review)")
    if as_json:
        print_json([b.model_dump(mode="json") for b in chosen])
    else:
        print_table(_COLUMNS, [_row(b) for b in chosen])
    return 0


def show(*, bead_id: str, as_json: bool = False) -> int:
    repo = open_repo()
    bead = repo.store.get(bead_id)
    if as_json:
        print_json(bead.model_dump(mode="json"))
    elif bead.report_only:
        from supervisor.views.review import review_text

        print(review_text(bead))
    else:
        print("\n".join([bead_text(bead), *_landing_and_logs(repo, bead)]))
    return 0


def _landing_and_logs(repo: Repo, bead: Bead) -> list[str]:
    """What ``mayor show`` adds to the plan's view of a bead: its merge commit, files and log paths."""
    from supervisor.views.beadfiles import LOG_FILES

    lines = []
    if bead.result is not None and (bead.result.commit or bead.result.files):
        lines += ["", f"{'merge commit' if bead.status == 'merged' else 'commit'}: {bead.result.commit or '-'}"]
        lines += [f"files: {', '.join(bead.result.files)}"] if bead.result.files else []
    logs = [
        f"  {a.n}. {repo.run_dir(bead.id, a.n) / name}"
        for a in bead.attempts
        for name in LOG_FILES.values()
        if (repo.run_dir(bead.id, a.n) / name).exists()
    ]
    if logs:
        lines += ["", "logs (`mayor logs ID [--attempt N] [--checks|--gate]`):", *logs]
    return lines


def ready(*, as_json: bool = False) -> int:
    store = open_repo().store
    summaries = store.summaries()
    length = graph.critical_paths(summaries)
    found = graph.ready(summaries, paths=length)
    if not as_json:
        print_table(("id", "pri", "path", "title"), [[b.id, b.priority, length[b.id], b.title] for b in found])
        return 0
    beads, paths = ready_whole(store, found, length)
    print_json([{**b.model_dump(mode="json"), "critical_path_minutes": paths[b.id]} for b in beads])
    return 0


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


def show_graph(*, fmt: str = "tree") -> int:
    print(render_graph(load_summaries(), fmt))
    return 0


def schema() -> int:
    print_json(bead_schema())
    return 0
