"""``mayor export --to beads FILE``: JSONL that ``bd import`` accepts, and a faithful round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from beads import importer
from beads.models import Bead
from beads.store import Store
from supervisor.cli import app
from tests.test_bd_ready import EXPECTED, export_file
from tests.test_import import GASTOWN_ISSUES, GASTOWN_READY, read_jsonl

BD_STATUSES = {"open", "in_progress", "blocked", "deferred", "closed", "pinned", "hooked"}
BD_TYPES = {
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
}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def check_bd_accepts(record: dict[str, Any], custom_types: frozenset[str] | set[str] = frozenset()) -> None:
    """What ``bd import`` checks of each line (``Issue.ValidateWithCustom`` and the JSON types of
    ``types.Issue``), written out from beads' source."""
    assert isinstance(record["id"], str) and record["id"]
    assert isinstance(record["title"], str) and 0 < len(record["title"]) <= 500
    assert isinstance(record["priority"], int) and 0 <= record["priority"] <= 4
    assert record.get("status", "open") in BD_STATUSES
    assert record.get("issue_type", "task") in BD_TYPES | custom_types
    assert ("closed_at" in record) == (record.get("status") == "closed")
    for name in ("pinned", "ephemeral", "is_template"):
        assert isinstance(record.get(name, False), bool)
    assert isinstance(record.get("metadata", {}), dict)
    assert isinstance(record.get("estimated_minutes", 0), int) and record.get("estimated_minutes", 0) >= 0
    assert all(isinstance(label, str) for label in record.get("labels", []))
    for edge in record.get("dependencies", []):
        assert edge["issue_id"] == record["id"] and isinstance(edge["depends_on_id"], str) and edge["type"]
        assert isinstance(edge.get("metadata", ""), str)


def dumps(beads: dict[str, Bead]) -> dict[str, dict[str, Any]]:
    return {bead_id: bead.model_dump(mode="json") for bead_id, bead in beads.items()}


def test_gastown_round_trip(mayor_repo: Path, shared_gastown: Path, tmp_path: Path) -> None:
    assert invoke("import", str(shared_gastown), "--from", "beads").exit_code == 0
    out = tmp_path / "bd.jsonl"
    result = invoke("export", "--to", "beads", str(out))
    assert result.exit_code == 0, result.output
    assert f"exported {GASTOWN_ISSUES} bead(s)" in result.stderr and f"bd import {out}" in result.stderr
    records = read_jsonl(out)
    types = {issue["issue_type"] for issue in read_jsonl(shared_gastown / "issues.jsonl")}
    for record in records:
        check_bd_accepts(record, types)
    assert sum(len(r.get("dependencies", [])) for r in records) == 315  # every edge, none derived
    stored = Store(mayor_repo / ".mayor").load()
    again = {b.id: b for b in importer.read(out, "beads", {}).beads}
    assert dumps(again) == dumps(stored)
    assert {b.id for b in again.values() if b.status == "open"} == GASTOWN_READY


def test_round_trip_keeps_derived_deps_held_beads_and_edge_metadata(mayor_repo: Path, tmp_path: Path) -> None:
    assert invoke("import", str(export_file(tmp_path / "in.jsonl")), "--from", "beads").exit_code == 0
    out = tmp_path / "out.jsonl"
    assert invoke("export", "--to", "beads", str(out)).exit_code == 0
    records = {r["id"]: r for r in read_jsonl(out)}
    for record in records.values():
        check_bd_accepts(record, {"merge-request", "agent", "role", "rig"})
    assert records["t-waiter-any"]["dependencies"] == [
        {
            "issue_id": "t-waiter-any",
            "depends_on_id": "t-spawner",
            "type": "waits-for",
            "metadata": '{"gate": "any-children"}',
        }
    ]
    assert [e["type"] for e in records["t-grandchild"]["dependencies"]] == ["parent-child"]  # not its derived dep
    assert records["t-doing"]["status"] == "in_progress" and records["t-pinflag"]["pinned"] is True
    stored = Store(mayor_repo / ".mayor").load()
    assert dumps({b.id: b for b in importer.read(out, "beads", {}).beads}) == dumps(stored)
    ready = {b["id"] for b in json.loads(invoke("ready", "--json").stdout)}
    assert ready == EXPECTED


def test_mayor_beads_go_to_beads_and_back(mayor_repo: Path, tmp_path: Path) -> None:
    base = invoke("add", "Schema", "--priority", "1", "--accept", "migrates", "--estimate", "45").stdout.strip()
    design = invoke("add", "Design the API", "--kind", "design", "--dep", base, "--label", "api").stdout.strip()
    gone = invoke("add", "Dropped idea").stdout.strip()
    assert invoke("cancel", gone).exit_code == 0
    out = tmp_path / "bd.jsonl"
    assert invoke("export", "--to", "beads", str(out)).exit_code == 0
    records = {r["id"]: r for r in read_jsonl(out)}
    for record in records.values():
        check_bd_accepts(record)
    assert records[design]["issue_type"] == "task" and records[design]["metadata"] == {"mayor_kind": "design"}
    assert records[design]["dependencies"] == [{"issue_id": design, "depends_on_id": base, "type": "blocks"}]
    assert records[base]["acceptance_criteria"] == "- migrates" and records[base]["estimated_minutes"] == 45
    assert records[gone]["status"] == "closed" and records[gone]["close_reason"] == "cancelled in mayor"
    stored = Store(mayor_repo / ".mayor").load()
    back = {b.id: b for b in importer.read(out, "beads", {}).beads}
    for bead_id, bead in stored.items():
        other = back[bead_id]
        assert (other.title, other.kind, other.priority, other.deps, other.labels) == (
            bead.title,
            bead.kind,
            bead.priority,
            bead.deps,
            bead.labels,
        )
        assert [c.text for c in other.acceptance] == [c.text for c in bead.acceptance]
        assert (other.estimate_minutes, other.created_at) == (bead.estimate_minutes, bead.created_at)
    assert back[gone].status == "done"  # beads has no cancelled: closed, with the reason


def test_export_arguments(mayor_repo: Path, tmp_path: Path) -> None:
    result = invoke("export", "--to", "jira", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2 and "'jira' is not one of beads" in result.stderr
    result = invoke("export", str(tmp_path))
    assert result.exit_code == 1 and "is a folder" in result.stderr
    result = invoke("export", str(tmp_path / "missing" / "x.jsonl"))
    assert result.exit_code == 1 and "does not exist" in result.stderr
    empty = tmp_path / "empty.jsonl"
    assert invoke("export", str(empty)).exit_code == 0 and empty.read_text() == ""
