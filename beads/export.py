"""Beads as a beads (``bd``) JSONL file: one issue a line, as ``bd export`` writes and ``bd import`` reads.

Pure: beads in, text out. The field names are those of beads' ``types.Issue`` and
``types.Dependency`` (``internal/types/types.go``), and each record passes the checks ``bd import``
makes (``Issue.ValidateWithCustom``): a title of at most 500 characters, a priority 0..4, a
built-in status, ``closed_at`` set exactly when the status is ``closed``, metadata a JSON object,
flags as booleans.

A bead imported from beads (``source.system == "beads"``) goes back as it came: its beads status
while mayor has not moved it, its issue type, the fields kept in ``source`` and its original edges
(the deps in ``source.derived_deps`` are not edges of beads and are left out). Any other bead maps
its status (:data:`STATUS`) and, when its kind is not one of beads' built-in types, is written as a
``task`` whose ``metadata.mayor_kind`` keeps the kind, which ``mayor import --from beads`` reads
back. Its deps are ``blocks`` edges, its links edges of their own type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from beads import bd
from beads.importer import BEADS_KEPT, BEADS_STATUS, kind
from beads.models import Bead
from beads.readiness import HELD_STATUS

STATUS: dict[str, str] = {
    "open": "open",
    "running": "in_progress",
    "queued": "in_progress",
    "review": "in_progress",
    "merged": "closed",
    "done": "closed",
    "failed": "blocked",
    "cancelled": "closed",
}
"""mayor status -> beads status, for a bead that did not come from beads (or that mayor moved)."""
BUILTIN_TYPES: frozenset[str] = frozenset(
    [
        "bug",
        "feature",
        "task",
        "epic",
        "chore",
        "decision",
        "message",
        "molecule",
        "gate",
        "spike",
        "story",
        "milestone",
    ]
)
"""Issue types every beads database accepts (``IssueType.IsValid``); others need ``types.custom``."""
MAX_TITLE = 500
FLAGS: frozenset[str] = frozenset({"pinned", "ephemeral", "is_template"})


def to_jsonl(beads: Iterable[Bead]) -> str:
    """One JSON object a line, by id."""
    return "".join(json.dumps(issue(bead), ensure_ascii=False) + "\n" for bead in sorted(beads, key=lambda b: b.id))


def issue(bead: Bead) -> dict[str, Any]:
    """The beads issue record of one bead."""
    source = bead.source if bead.source.get("system") == "beads" else {}
    status = beads_status(bead, source)
    record: dict[str, Any] = {"id": bead.id, "title": bead.title[:MAX_TITLE]}
    if bead.description:
        record["description"] = bead.description
    if bead.acceptance:
        record["acceptance_criteria"] = "\n".join(f"- {c.text}" for c in bead.acceptance)
    record |= {"status": status, "priority": bead.priority}
    issue_type, metadata = _type(bead, source)
    record["issue_type"] = issue_type
    if bead.estimate_minutes is not None:
        record["estimated_minutes"] = bead.estimate_minutes
    record |= {"created_at": _time(bead.created_at), "updated_at": _time(bead.updated_at)}
    if status == "closed":
        record["closed_at"] = _time(bead.closed_at or bead.updated_at)
        if bead.status == "cancelled" and not source:
            record["close_reason"] = "cancelled in mayor"
    record |= _kept(source)
    if metadata:
        record["metadata"] = {**record.get("metadata", {}), **metadata}
    if bead.labels:
        record["labels"] = list(bead.labels)
    edges = dependencies(bead)
    if edges:
        record["dependencies"] = edges
    return record


def beads_status(bead: Bead, source: Mapping[str, Any]) -> str:
    """The beads status: the original one while mayor has left the bead as imported."""
    original = source.get("status")
    if isinstance(original, str) and original:
        imported = HELD_STATUS if "held" in source else BEADS_STATUS.get(original, "open")
        if bead.status == imported and original != "tombstone":
            return original
    return STATUS[bead.status]


def _type(bead: Bead, source: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The issue type, and the metadata that keeps a kind beads does not know."""
    original = source.get("issue_type")
    if isinstance(original, str) and kind(original) == bead.kind:
        return original, {}
    if bead.kind in BUILTIN_TYPES:
        return bead.kind, {}
    return "task", {"mayor_kind": bead.kind}


def _kept(source: Mapping[str, Any]) -> dict[str, Any]:
    """The beads fields the import kept in ``source``, in the types ``bd import`` expects."""
    out: dict[str, Any] = {}
    for name in BEADS_KEPT:
        if name not in source:
            continue
        value = source[name]
        if name in FLAGS:
            value = bd.flag(value)
        elif name == "metadata" and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                continue
            if not isinstance(value, dict):
                continue
        if value not in (None, "", False, [], {}):
            out[name] = value
    return out


def dependencies(bead: Bead) -> list[dict[str, Any]]:
    """The bead's own edges: its deps as ``blocks`` (less the derived ones), then its links."""
    derived = bead.source.get("derived_deps", {}) if bead.source.get("system") == "beads" else {}
    metadata = bead.source.get("edge_metadata", {})
    out = [_edge(bead.id, dep, "blocks", None) for dep in bead.deps if dep not in derived]
    out += [_edge(bead.id, link.id, link.type, metadata.get(f"{link.type} {link.id}")) for link in bead.links]
    return out


def _edge(issue_id: str, target: str, edge_type: str, metadata: Any) -> dict[str, Any]:
    edge = {"issue_id": issue_id, "depends_on_id": target, "type": edge_type}
    if metadata:
        edge["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata, sort_keys=True)
    return edge


def _time(moment: datetime) -> str:
    """RFC 3339 in UTC, as Go's ``time.Time`` reads it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
