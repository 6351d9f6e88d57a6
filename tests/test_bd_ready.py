"""After ``mayor import --from beads``, ``mayor ready`` offers exactly what ``bd ready`` would.

``reference_ready`` is a second, independent reading of beads' rules, written from its SQL
(``internal/storage/issueops/ready_work.go``; ``blocked_state.go``: the ``is_blocked`` mark pass,
repeated until nothing changes) rather than from :mod:`beads.bd`; the hand-made database below has
one issue per rule, with the expected answer written out by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from beads import importer
from beads.store import Store
from supervisor.cli import app
from tests.test_import import GASTOWN_READY, read_jsonl, write_jsonl

NEVER = {"merge-request", "gate", "molecule", "message", "agent", "role", "rig"}
PAST, FUTURE = "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"


def reference_ready(issues: list[dict[str, Any]], edges: list[dict[str, Any]], now: datetime) -> set[str]:
    by_id = {i["id"]: i for i in issues}
    status = {i["id"]: i.get("status") or "open" for i in issues}
    live = [e for e in edges if e["issue_id"] in by_id and e["depends_on_id"] in by_id]

    def settled(issue_id: str) -> bool:
        return status[issue_id] in ("closed", "pinned")

    def children(spawner: str) -> list[str]:
        return [e["issue_id"] for e in live if e["type"] == "parent-child" and e["depends_on_id"] == spawner]

    def gate_holds(edge: dict[str, Any]) -> bool:
        kids = children(edge["depends_on_id"])
        meta = edge.get("metadata") or "{}"
        any_children = (json.loads(meta) if isinstance(meta, str) else meta).get("gate") == "any-children"
        if any_children and any(status[k] == "closed" for k in kids):
            return False
        return any(not settled(k) for k in kids)

    blocked: set[str] = set()
    while True:
        marked = {
            e["issue_id"]
            for e in live
            if not settled(e["issue_id"])
            and (
                (e["type"] in ("blocks", "conditional-blocks") and not settled(e["depends_on_id"]))
                or (e["type"] == "parent-child" and e["depends_on_id"] in blocked)
                or (e["type"] == "waits-for" and gate_holds(e))
            )
        }
        if marked <= blocked:
            break
        blocked |= marked

    def deferred(issue: dict[str, Any]) -> bool:
        until = issue.get("defer_until")
        return bool(until) and datetime.fromisoformat(until.replace("Z", "+00:00")) > now

    deferred_children = {
        e["issue_id"] for e in live if e["type"] == "parent-child" and deferred(by_id[e["depends_on_id"]])
    }
    return {
        i["id"]
        for i in issues
        if status[i["id"]] == "open"
        and not i.get("pinned")
        and not i.get("ephemeral")
        and (i.get("issue_type") or "task") not in NEVER
        and not deferred(i)
        and i["id"] not in deferred_children
        and i["id"] not in blocked
    }


def issue(issue_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": issue_id, "title": issue_id, "status": "open", "issue_type": "task", **fields}


def edge(a: str, b: str, edge_type: str = "blocks", **fields: Any) -> dict[str, Any]:
    return {"issue_id": a, "depends_on_id": b, "type": edge_type, **fields}


ISSUES = [
    issue("t-free"),
    issue("t-done", status="closed", closed_at=PAST),
    issue("t-doing", status="in_progress"),
    issue("t-hooked", status="hooked"),
    issue("t-stuck", status="blocked"),
    issue("t-later", status="deferred"),
    issue("t-pin", status="pinned"),
    issue("t-pinflag", pinned=1),
    issue("t-wisp", ephemeral=True),
    *[issue(f"t-{kind}", issue_type=kind) for kind in sorted(NEVER)],
    issue("t-epic-type", issue_type="epic"),
    issue("t-def-future", defer_until=FUTURE),
    issue("t-def-past", defer_until=PAST),
    issue("t-def-parent", defer_until=FUTURE, status="closed", closed_at=PAST),
    issue("t-def-child"),
    issue("t-def-grandchild"),
    issue("t-on-open"),
    issue("t-on-done"),
    issue("t-on-pinned"),
    issue("t-on-doing"),
    issue("t-on-missing"),
    issue("t-cond"),
    issue("t-cond-done"),
    issue("t-related"),
    issue("t-epic"),
    issue("t-child"),
    issue("t-grandchild"),
    issue("t-child-of-done", status="open"),
    issue("t-closed-parent", status="closed", closed_at=PAST),
    issue("t-spawner"),
    issue("t-spawned-a"),
    issue("t-spawned-b", status="closed", closed_at=PAST),
    issue("t-waiter"),
    issue("t-waiter-any"),
    issue("t-waiter-none"),
    issue("t-lonely-spawner"),
    issue("t-self-epic"),
    issue("t-self-child"),
    issue("t-cyc-parent"),
    issue("t-cyc-a"),
    issue("t-cyc-b"),
]
EDGES = [
    edge("t-def-child", "t-def-parent", "parent-child"),
    edge("t-def-grandchild", "t-def-child", "parent-child"),
    edge("t-on-open", "t-free"),
    edge("t-on-done", "t-done"),
    edge("t-on-pinned", "t-pin"),
    edge("t-on-doing", "t-doing"),
    edge("t-on-missing", "t-wisp-gone"),
    edge("t-cond", "t-free", "conditional-blocks"),
    edge("t-cond-done", "t-done", "conditional-blocks"),
    edge("t-related", "t-doing", "related"),
    edge("t-related", "t-doing", "discovered-from"),
    edge("t-epic", "t-doing"),
    edge("t-child", "t-epic", "parent-child"),
    edge("t-grandchild", "t-child", "parent-child"),
    edge("t-closed-parent", "t-doing"),
    edge("t-child-of-done", "t-closed-parent", "parent-child"),
    edge("t-spawned-a", "t-spawner", "parent-child"),
    edge("t-spawned-b", "t-spawner", "parent-child"),
    edge("t-waiter", "t-spawner", "waits-for"),
    edge("t-waiter-any", "t-spawner", "waits-for", metadata='{"gate": "any-children"}'),
    edge("t-waiter-none", "t-lonely-spawner", "waits-for"),
    edge("t-self-epic", "t-self-child"),
    edge("t-self-child", "t-self-epic", "parent-child"),
    edge("t-cyc-a", "t-cyc-parent", "parent-child"),
    edge("t-cyc-parent", "t-cyc-b"),
    edge("t-cyc-b", "t-cyc-a"),
]
EXPECTED = {
    "t-free",
    "t-epic-type",
    "t-def-past",
    "t-def-grandchild",  # only a direct parent's defer_until hides a child
    "t-on-done",
    "t-on-pinned",
    "t-on-missing",
    "t-cond-done",
    "t-related",
    "t-child-of-done",  # a closed parent is never blocked, whatever it waited on
    "t-spawner",
    "t-spawned-a",
    "t-waiter-any",  # any-children: one closed child is enough
    "t-waiter-none",  # a spawner with no children holds no one
    "t-lonely-spawner",
}
"""Worked out by hand from the rules, one line of ISSUES at a time."""


def export_file(path: Path) -> Path:
    deps: dict[str, list[dict[str, Any]]] = {}
    for e in EDGES:
        deps.setdefault(e["issue_id"], []).append(e)
    return write_jsonl(path, [{**i, "dependencies": deps.get(i["id"], [])} for i in ISSUES])


def backup_folder(path: Path) -> Path:
    path.mkdir()
    write_jsonl(path / "issues.jsonl", ISSUES)
    write_jsonl(path / "dependencies.jsonl", EDGES)
    write_jsonl(path / "labels.jsonl", [])
    return path


def test_the_reference_agrees_with_the_hand_made_answer() -> None:
    assert reference_ready(ISSUES, EDGES, datetime.now(UTC)) == EXPECTED


def test_the_reference_agrees_with_the_hand_checked_gastown_list(shared_gastown: Path) -> None:
    issues = read_jsonl(shared_gastown / "issues.jsonl")
    edges = read_jsonl(shared_gastown / "dependencies.jsonl")
    assert reference_ready(issues, edges, datetime.now(UTC)) == GASTOWN_READY


@pytest.mark.parametrize("layout", ["export", "folder"])
def test_mayor_ready_is_bd_ready(mayor_repo: Path, tmp_path: Path, layout: str) -> None:
    given = export_file(tmp_path / "bd.jsonl") if layout == "export" else backup_folder(tmp_path / "backup")
    result = CliRunner().invoke(app, ["import", str(given), "--from", "beads"])
    assert result.exit_code == 0, result.output
    ready = {b["id"] for b in json.loads(CliRunner().invoke(app, ["ready", "--json"]).stdout)}
    assert ready == EXPECTED
    beads = Store(mayor_repo / ".mayor").load()
    assert beads["t-grandchild"].source["derived_deps"] == {"t-doing": "parent-child t-child"}
    assert beads["t-waiter"].source["derived_deps"] == {"t-spawned-a": "waits-for t-spawner"}
    assert beads["t-cond"].source["derived_deps"] == {"t-free": "conditional-blocks"}
    assert beads["t-on-pinned"].deps == [] and beads["t-on-pinned"].links[0].type == "blocks"
    assert beads["t-self-child"].source["held"] == "blocked by itself through a parent"
    assert "derived_deps" not in beads["t-cyc-a"].source and beads["t-cyc-a"].status == "cancelled"
    assert beads["t-doing"].source["held"] == "status in_progress" and beads["t-agent"].source["held"] == "type agent"
    assert "4 dep(s) derived from parent-child, waits-for and conditional-blocks edges" in result.stderr


def test_gastown_with_a_clock(shared_gastown: Path) -> None:
    """bd's set does not depend on the day for this fixture: no defer_until in it."""
    for now in (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)):
        beads = importer.read(shared_gastown, "beads", {}, now=now).beads
        assert {b.id for b in beads if b.status == "open"} == GASTOWN_READY


def test_a_deferral_is_read_against_the_given_clock(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bd.jsonl", [issue("t-a", defer_until="2030-06-01T00:00:00Z")])
    before = importer.read(path, "beads", {}, now=datetime(2030, 5, 31, tzinfo=UTC)).beads[0]
    after = importer.read(path, "beads", {}, now=datetime(2030, 6, 2, tzinfo=UTC)).beads[0]
    assert (before.status, before.source["held"]) == ("cancelled", "deferred until 2030-06-01T00:00:00Z")
    assert after.status == "open" and "held" not in after.source


def test_landing_a_blocker_frees_what_beads_would_free(mayor_repo: Path, tmp_path: Path) -> None:
    """The derived deps keep mayor in step with beads after the import too: when t-doing lands in
    mayor, mayor offers what bd ready offers once t-doing is closed."""
    assert (
        CliRunner().invoke(app, ["import", str(export_file(tmp_path / "bd.jsonl")), "--from", "beads"]).exit_code == 0
    )
    with Store(mayor_repo / ".mayor").edit() as tx:
        bead = tx.get("t-doing")
        bead.status = "done"
        tx.put(bead)
    closed = [{**i, "status": "closed", "closed_at": PAST} if i["id"] == "t-doing" else i for i in ISSUES]
    expected = reference_ready(closed, EDGES, datetime.now(UTC))
    assert expected - EXPECTED == {"t-on-doing", "t-epic", "t-child", "t-grandchild"}
    ready = {b["id"] for b in json.loads(CliRunner().invoke(app, ["ready", "--json"]).stdout)}
    assert ready == expected
