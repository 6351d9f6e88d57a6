"""What beads (``bd``) means by the fields of its issues: which are ready work, and what blocks.

Pure functions over a beads database as read (the issues' JSON objects by id, and their edges);
no files, no clock of their own. The rules are beads' own, read from its source
(github.com/steveyegge/beads at fbcee6c, June 2026: ``cmd/bd/ready.go``,
``internal/storage/issueops/ready_work.go`` and the ``is_blocked`` queries of
``internal/storage/issueops/blocked_state.go``; the April 2026 release, 8694c53, computes blocked
issues in Go, ``issueops/blocked.go``, to the same effect for direct blockers and gates):

* ``bd ready`` offers an issue only when its status is ``open`` (``in_progress``, ``hooked``,
  ``blocked``, ``deferred``, ``pinned`` ... never), it is neither pinned nor ephemeral (a wisp),
  its type is not one of :data:`NEVER_READY_TYPES`, its ``defer_until`` (and its direct parent's)
  is not in the future, and it is not blocked.
* An issue that is ``closed`` or ``pinned`` is never blocked and never blocks.
* Blocked: a ``blocks`` or ``conditional-blocks`` edge to an issue of the database that is
  neither closed nor pinned; or a ``waits-for`` edge to a spawner that has a child (a
  ``parent-child`` edge to it) neither closed nor pinned, unless the edge's metadata says
  ``{"gate": "any-children"}`` and one child is closed; or a ``parent-child`` edge to a parent that
  is blocked, transitively.
* Edges to ids not in the database never block; ``related``, ``discovered-from`` and every other
  type are never blocking.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BLOCKING_TYPES: frozenset[str] = frozenset({"blocks", "conditional-blocks"})
"""Edge types that block while their target is neither closed nor pinned."""
PARENT = "parent-child"
WAITS_FOR = "waits-for"
SETTLED: frozenset[str] = frozenset({"closed", "pinned"})
"""Statuses that are never blocked and never block."""
NEVER_READY_TYPES: frozenset[str] = frozenset({"merge-request", "gate", "molecule", "message", "agent", "role", "rig"})
"""Issue types that ``bd ready`` never offers (``readyWorkExcludeTypes``)."""


@dataclass(frozen=True)
class Edge:
    """A beads dependency: ``issue`` depends on ``target`` in the way ``type`` says."""

    issue: str
    target: str
    type: str
    metadata: Any = None
    """The edge's own metadata (a JSON text or object); ``waits-for`` reads its ``gate``."""


@dataclass
class Verdict:
    """What ``bd ready`` makes of one issue."""

    held: str | None = None
    """Why it is not ready for a reason other than its blockers (its status, type, a flag, a
    date), in a few words; None when only blockers (or nothing) keep it from being ready."""
    blockers: dict[str, str] = field(default_factory=dict)
    """The issues that block it now, each with how: ``blocks``, ``conditional-blocks``,
    ``waits-for S``, or ``parent-child P`` for a blocker of a parent (transitively)."""

    @property
    def ready(self) -> bool:
        return self.held is None and not self.blockers


def status(issue: Mapping[str, Any]) -> str:
    value = issue.get("status")
    return value if isinstance(value, str) and value else "open"


def issue_type(issue: Mapping[str, Any]) -> str:
    value = issue.get("issue_type")
    return value if isinstance(value, str) and value else "task"


def flag(value: Any) -> bool:
    """A beads boolean: ``true`` in a ``bd export`` file, ``1`` in a backup folder."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 time (a naive one is UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def gate(edge: Edge) -> str | None:
    """The ``gate`` of a ``waits-for`` edge's metadata (``all-children``, the default, or ``any-children``)."""
    data = edge.metadata
    if isinstance(data, str):
        try:
            data = json.loads(data) if data.strip() else None
        except (ValueError, RecursionError):
            return None
    value = data.get("gate") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def verdicts(issues: Mapping[str, Mapping[str, Any]], edges: Sequence[Edge], now: datetime) -> dict[str, Verdict]:
    """For every issue, whether ``bd ready`` would offer it at ``now``, and if not, why."""
    rules = _Rules(issues, edges)
    blockers = rules.blockers()
    return {issue_id: Verdict(rules.held(issue_id, now), blockers[issue_id]) for issue_id in issues}


class _Rules:
    """The edges of one database, indexed for the questions ``bd ready`` asks."""

    def __init__(self, issues: Mapping[str, Mapping[str, Any]], edges: Sequence[Edge]) -> None:
        self.issues = issues
        self.out: dict[str, list[Edge]] = {issue_id: [] for issue_id in issues}
        self.children: dict[str, list[str]] = {}
        for edge in edges:
            if edge.issue not in issues or edge.target not in issues:
                continue  # an edge to or from an id not in the database never blocks
            self.out[edge.issue].append(edge)
            if edge.type == PARENT:
                self.children.setdefault(edge.target, []).append(edge.issue)

    def settled(self, issue_id: str) -> bool:
        return status(self.issues[issue_id]) in SETTLED

    def held(self, issue_id: str, now: datetime) -> str | None:
        issue = self.issues[issue_id]
        if status(issue) != "open":
            return f"status {status(issue)}"
        if issue_type(issue) in NEVER_READY_TYPES:
            return f"type {issue_type(issue)}"
        if flag(issue.get("pinned")):
            return "pinned"
        if flag(issue.get("ephemeral")):
            return "ephemeral"
        until = timestamp(issue.get("defer_until"))
        if until is not None and until > now:
            return f"deferred until {issue['defer_until']}"
        for edge in self.out[issue_id]:
            parent_until = timestamp(self.issues[edge.target].get("defer_until"))
            if edge.type == PARENT and parent_until is not None and parent_until > now:
                return f"parent {edge.target} deferred until {self.issues[edge.target]['defer_until']}"
        return None

    def blockers(self) -> dict[str, dict[str, str]]:
        """For each issue, the issues that block it now (empty when it is not blocked).

        Direct blockers first; then each child takes on the blockers of its parents until
        nothing changes (as beads recomputes ``is_blocked``), so a parent-child cycle is safe.
        """
        found = {issue_id: self._direct(issue_id) for issue_id in self.issues}
        parents = {
            issue_id: [e.target for e in self.out[issue_id] if e.type == PARENT and not self.settled(e.target)]
            for issue_id in self.issues
            if not self.settled(issue_id)
        }
        changed = True
        while changed:
            changed = False
            for issue_id, ups in parents.items():
                for parent in ups:
                    for blocker in found[parent]:
                        if blocker not in found[issue_id]:
                            found[issue_id][blocker] = f"{PARENT} {parent}"
                            changed = True
        return found

    def _direct(self, issue_id: str) -> dict[str, str]:
        if self.settled(issue_id):
            return {}
        found: dict[str, str] = {}
        for edge in self.out[issue_id]:
            if edge.type in BLOCKING_TYPES and not self.settled(edge.target):
                found.setdefault(edge.target, edge.type)
            elif edge.type == WAITS_FOR:
                for child in self._waited_children(edge):
                    found.setdefault(child, f"{WAITS_FOR} {edge.target}")
        return found

    def _waited_children(self, edge: Edge) -> list[str]:
        """The children of a ``waits-for`` target that keep the waiter blocked."""
        children = self.children.get(edge.target, [])
        if gate(edge) == "any-children" and any(status(self.issues[c]) == "closed" for c in children):
            return []
        return [child for child in children if not self.settled(child)]
