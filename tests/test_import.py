"""``mayor import``: the mayor format and both layouts of a beads database, all or nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from beads import importer
from beads.errors import CycleError, ImportFormatError
from beads.models import Bead
from beads.store import Store
from supervisor.cli import app

GASTOWN_ISSUES = 677
GASTOWN_BLOCKS = 259
GASTOWN_EDGES = 315
GASTOWN_READY = {"gt-08hf1", "gt-5659", "gt-8neb", "gt-gastown-polecat-Toast", "gt-gastown-polecat-max"}
"""What `bd ready` offers of the fixture, checked by hand: its 32 open issues, less the 27 of type
agent (18 of them ephemeral too); none of the five has an edge or a defer_until. The pinned and the
hooked issues are not open."""
GASTOWN_HELD = (
    "29 bead(s) that `bd ready` would not offer imported as cancelled (1 status hooked, 1 status pinned, 27 type agent)"
)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def store(repo: Path) -> Store:
    return Store(repo / ".mayor")


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every name in the bead folder, with its bytes."""
    folder = repo / ".mayor" / "beads"
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def export_layout(folder: Path, out: Path) -> Path:
    """The `bd export` layout of a backup folder: labels and dependencies inside each issue."""
    labels: dict[str, list[str]] = {}
    for row in read_jsonl(folder / "labels.jsonl"):
        labels.setdefault(row["issue_id"], []).append(row["label"])
    deps: dict[str, list[dict[str, Any]]] = {}
    for row in read_jsonl(folder / "dependencies.jsonl"):
        deps.setdefault(row["issue_id"], []).append(row)
    issues = read_jsonl(folder / "issues.jsonl")
    for issue in issues:
        issue["labels"] = labels.get(issue["id"], [])
        issue["dependencies"] = deps.get(issue["id"], [])
    return write_jsonl(out, issues)


def expected_gastown(folder: Path) -> dict[str, Any]:
    """What the import should make of the fixture, worked out from its files alone."""
    ids = {issue["id"] for issue in read_jsonl(folder / "issues.jsonl")}
    edges = read_jsonl(folder / "dependencies.jsonl")
    blocks = [e for e in edges if e["type"] == "blocks"]
    return {
        "ids": ids,
        "deps": {(e["issue_id"], e["depends_on_id"]) for e in blocks if e["depends_on_id"] in ids},
        "external_blocks": {(e["issue_id"], e["depends_on_id"]) for e in blocks if e["depends_on_id"] not in ids},
        "links": {(e["issue_id"], e["depends_on_id"], e["type"]) for e in edges if e["type"] != "blocks"},
        "blocks": len(blocks),
    }


def check_gastown(beads: dict[str, Bead], folder: Path) -> None:
    want = expected_gastown(folder)
    assert len(beads) == GASTOWN_ISSUES and set(beads) == want["ids"]
    assert want["blocks"] == GASTOWN_BLOCKS
    deps = {(b.id, d) for b in beads.values() for d in b.deps}
    assert deps == want["deps"]
    external = {(b.id, link.id) for b in beads.values() for link in b.links if link.external and link.type == "blocks"}
    assert external == want["external_blocks"]
    assert len(deps) + len(external) == GASTOWN_BLOCKS
    links = {(b.id, link.id, link.type) for b in beads.values() for link in b.links if link.type != "blocks"}
    assert links == want["links"]
    assert all(link.external == (link.id not in beads) for b in beads.values() for link in b.links)


def check_status_mapping(beads: dict[str, Bead]) -> None:
    pairs = Counter((b.source["status"], b.status) for b in beads.values())
    assert set(pairs) == {
        ("closed", "done"),
        ("open", "open"),
        ("open", "cancelled"),
        ("pinned", "cancelled"),
        ("hooked", "cancelled"),
    }
    assert pairs[("closed", "done")] == 643 and pairs[("open", "open")] == len(GASTOWN_READY)
    assert {b.id for b in beads.values() if b.status == "open"} == GASTOWN_READY
    held = Counter(b.source["held"] for b in beads.values() if b.status == "cancelled")
    assert held == {"type agent": 27, "status pinned": 1, "status hooked": 1}
    assert all(b.source["system"] == "beads" and b.source["id"] == b.id for b in beads.values())
    assert all(b.landed for b in beads.values() if b.source["status"] == "closed")


def test_gastown_backup_folder_through_the_cli(mayor_repo: Path, shared_gastown: Path) -> None:
    result = invoke("import", str(shared_gastown), "--from", "beads")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split()) == GASTOWN_ISSUES
    assert "imported 677 bead(s)" in result.stderr and "external reference" in result.stderr
    assert GASTOWN_HELD in result.stderr
    beads = store(mayor_repo).load()
    check_gastown(beads, shared_gastown)
    check_status_mapping(beads)
    labelled = read_jsonl(shared_gastown / "labels.jsonl")[0]
    assert labelled["label"] in beads[labelled["issue_id"]].labels


@pytest.mark.parametrize("layout", ["folder", "export"])
def test_ready_and_blocked_after_import(mayor_repo: Path, shared_gastown: Path, tmp_path: Path, layout: str) -> None:
    given = shared_gastown if layout == "folder" else export_layout(shared_gastown, tmp_path / "export.jsonl")
    assert invoke("import", str(given), "--from", "beads").exit_code == 0
    ready = json.loads(invoke("ready", "--json").stdout)
    assert {b["id"] for b in ready} == GASTOWN_READY  # what `bd ready` offers; was all 34 not closed
    beads = store(mayor_repo).load()
    open_ids = {b.id for b in beads.values() if b.status == "open"}
    assert open_ids == GASTOWN_READY  # external references never block
    hold = sorted(open_ids)[0]
    added = invoke("add", "Follow-up", "--dep", hold)
    assert added.exit_code == 0, added.output
    blocked = json.loads(invoke("blocked", "--json").stdout)
    assert [(b["id"], b["blocked_by"][0]["id"]) for b in blocked] == [(added.stdout.strip(), hold)]


def test_gastown_export_layout_matches_the_folder(tmp_path: Path, shared_gastown: Path) -> None:
    export = export_layout(shared_gastown, tmp_path / "export.jsonl")
    from_file = importer.read(export, "beads", {})
    from_folder = importer.read(shared_gastown, "beads", {})
    by_id = {b.id: b for b in from_file.beads}
    check_gastown(by_id, shared_gastown)
    check_status_mapping(by_id)
    assert [b.model_dump(exclude={"created_at", "updated_at"}) for b in from_file.beads] == [
        b.model_dump(exclude={"created_at", "updated_at"}) for b in from_folder.beads
    ]
    assert (from_file.deps, from_file.links, len(from_file.external)) == (55, 27, 233)
    assert from_file.deps + from_file.links + len(from_file.external) == GASTOWN_EDGES
    issues_alone = importer.read(shared_gastown / "issues.jsonl", "beads", {})
    assert issues_alone.deps == 0 and any("holds no edges" in note for note in issues_alone.notes)


def test_beads_mapping_details(mayor_repo: Path, tmp_path: Path) -> None:
    stored = invoke("add", "Already here")
    here = stored.stdout.strip()
    a = {
        "id": "bd-1",
        "title": "Parent",
        "status": "in_progress",
        "issue_type": "Merge Request",
        "priority": 9,
        "estimated_minutes": 45,
        "design": "Use a queue.",
        "notes": "Ask Ann.",
        "description": "Body.",
        "acceptance_criteria": "- [ ] tests pass\n\n* docs updated\n1. no regressions",
        "close_reason": "",
        "owner": "ann@example.com",
        "external_ref": "gh-12",
        "labels": ["x", "x", "y"],
        "created_at": "2025-01-02T03:04:05Z",
        "updated_at": "2025-01-03T00:00:00Z",
        "dependencies": [
            {"issue_id": "bd-1", "depends_on_id": here, "type": "blocks"},
            {"issue_id": "bd-1", "depends_on_id": "bd-gone", "type": "blocks"},
            {"issue_id": "bd-1", "depends_on_id": "bd-2", "type": "related"},
        ],
    }
    b = {
        "id": "bd-2",
        "title": "Child",
        "status": "tombstone",
        "priority": -1,
        "dependencies": [
            {"issue_id": "bd-2", "depends_on_id": "bd-1", "type": "blocks"},
            {"issue_id": "bd-2", "depends_on_id": "bd-1", "type": "blocks"},
        ],
    }
    export = write_jsonl(tmp_path / "bd.jsonl", [a, b])
    result = invoke("import", str(export), "--from", "beads", "--json")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.stdout)] == ["bd-1", "bd-2"]
    beads = store(mayor_repo).load()
    one, two = beads["bd-1"], beads["bd-2"]
    assert (one.status, one.kind, one.priority, one.estimate_minutes) == ("cancelled", "merge-request", 4, 45)
    assert one.description == "Body.\n\n## Design\n\nUse a queue.\n\n## Notes\n\nAsk Ann."
    assert [c.text for c in one.acceptance] == ["tests pass", "docs updated", "no regressions"]
    assert one.labels == ["x", "y"] and one.deps == [here]
    assert [(lk.type, lk.id, lk.external) for lk in one.links] == [
        ("blocks", "bd-gone", True),
        ("related", "bd-2", False),
    ]
    assert one.source == {
        "system": "beads",
        "id": "bd-1",
        "status": "in_progress",
        "issue_type": "Merge Request",
        "owner": "ann@example.com",
        "external_ref": "gh-12",
        "held": "status in_progress",
    }
    assert one.updated_at.isoformat() == "2025-01-03T00:00:00+00:00"
    assert (two.status, two.priority, two.deps, two.kind) == ("cancelled", 0, ["bd-1"], "task")
    assert "2 dep(s), 1 link(s), 1 external reference(s)" in result.stderr and "bd-1 -> bd-gone" in result.stderr


def test_keys_resolve_deps(mayor_repo: Path, tmp_path: Path) -> None:
    base = invoke("add", "Base").stdout.strip()
    records: list[dict[str, Any]] = [
        {"key": "schema", "title": "Schema", "priority": 1, "acceptance": [{"text": "migrates", "check": "true"}]},
        {"key": "api", "title": "API", "deps": ["schema", base]},
        {"id": "ui-1", "title": "UI", "deps": ["api"]},
        {"title": "Docs", "deps": ["ui-1", "schema"], "labels": ["docs"]},
    ]
    result = invoke("import", str(write_jsonl(tmp_path / "plan.jsonl", records)))
    assert result.exit_code == 0, result.output
    schema, api, ui, docs = result.stdout.split()
    assert ui == "ui-1"
    beads = store(mayor_repo).load()
    assert beads[api].deps == [schema, base] and beads[ui].deps == [api] and beads[docs].deps == [ui, schema]
    assert beads[schema].acceptance[0].check == "true" and beads[docs].labels == ["docs"]
    ready = [b["id"] for b in json.loads(invoke("ready", "--json").stdout)]
    assert ready == [schema, base]
    assert "4 bead(s): 5 dep(s)" in result.stderr


def test_json_array_errors_name_the_line(mayor_repo: Path, tmp_path: Path) -> None:
    text = '[\n  {"key": "a", "title": "A"},\n  {\n    "key": "b",\n    "title": "B",\n    "priority": 9\n  }\n]\n'
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(ImportFormatError) as info:
        importer.read(path, "mayor", {})
    assert info.value.line == 3 and "priority" in str(info.value)
    path.write_text(text.replace("9", "1"))
    assert [b.title for b in importer.read(path, "mayor", {}).beads] == ["A", "B"]
    path.write_text(text.replace('"A"},', '"A"}'))
    with pytest.raises(ImportFormatError, match=r"plan\.json:3: bad JSON"):
        importer.read(path, "mayor", {})


def test_bad_json_line_writes_nothing(mayor_repo: Path, tmp_path: Path) -> None:
    invoke("add", "Kept")
    before = snapshot(mayor_repo)
    path = tmp_path / "plan.jsonl"
    path.write_text('{"title": "one"}\n\n{"title": "two",\n{"title": "three"}\n')
    result = invoke("import", str(path))
    assert result.exit_code == 1
    assert f"{path}:3: bad JSON" in result.stderr and "nothing was imported" in result.stderr
    assert snapshot(mayor_repo) == before


def test_unknown_field_and_unknown_dep(mayor_repo: Path, tmp_path: Path) -> None:
    before = snapshot(mayor_repo)
    path = write_jsonl(tmp_path / "plan.jsonl", [{"title": "one"}, {"title": "two"}, {"title": "x", "colour": "red"}])
    result = invoke("import", str(path))
    assert result.exit_code == 1 and f"{path}:3: unknown field(s) colour" in result.stderr
    path = write_jsonl(tmp_path / "plan.jsonl", [{"title": "one"}, {"title": "two", "deps": ["nowhere"]}])
    result = invoke("import", str(path))
    assert result.exit_code == 1 and f"{path}:2: dep 'nowhere'" in result.stderr
    assert snapshot(mayor_repo) == before


def test_cycle_in_a_mayor_file(mayor_repo: Path, tmp_path: Path) -> None:
    before = snapshot(mayor_repo)
    records: list[dict[str, Any]] = [
        {"key": "a", "title": "A", "deps": ["c"]},
        {"key": "b", "title": "B", "deps": ["a"]},
        {"id": "c-1", "key": "c", "title": "C", "deps": ["b"]},
        {"title": "Free"},
    ]
    path = write_jsonl(tmp_path / "plan.jsonl", records)
    with pytest.raises(CycleError) as info:
        importer.read(path, "mayor", {})
    assert len(info.value.cycle) == 3 and any(part.startswith("c-1 (key c)") for part in info.value.cycle)
    result = invoke("import", str(path))
    assert result.exit_code == 1
    assert "dependency cycle" in result.stderr and "(key a)" in result.stderr and "c-1 (key c)" in result.stderr
    assert snapshot(mayor_repo) == before


def test_id_clash(mayor_repo: Path, tmp_path: Path) -> None:
    taken = invoke("add", "Taken").stdout.strip()
    before = snapshot(mayor_repo)
    path = write_jsonl(tmp_path / "plan.jsonl", [{"title": "new"}, {"id": taken, "title": "again"}])
    result = invoke("import", str(path))
    assert result.exit_code == 1 and f"{path}:2: id {taken} already exists" in result.stderr
    export = write_jsonl(tmp_path / "bd.jsonl", [{"id": "bd-9", "title": "fresh"}, {"id": taken, "title": "clash"}])
    result = invoke("import", str(export), "--from", "beads")
    assert result.exit_code == 1 and f"already in the store: {taken}" in result.stderr
    assert snapshot(mayor_repo) == before


def test_gastown_twice_is_a_clash(mayor_repo: Path, shared_gastown: Path) -> None:
    assert invoke("import", str(shared_gastown), "--from", "beads").exit_code == 0
    before = snapshot(mayor_repo)
    again = invoke("import", str(shared_gastown), "--from", "beads")
    assert again.exit_code == 1 and "677 id(s) are already in the store: gt-00us" in again.stderr
    assert snapshot(mayor_repo) == before


def test_bad_arguments(mayor_repo: Path, tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path), "--from", "bd")
    assert result.exit_code == 2 and "'bd' is not one of mayor, beads" in result.stderr
    result = invoke("import", str(tmp_path / "missing.jsonl"))
    assert result.exit_code == 1 and "does not exist" in result.stderr
    result = invoke("import", str(tmp_path), "--from", "beads")
    assert result.exit_code == 1 and "holds no issues.jsonl" in result.stderr
    result = invoke("import", str(tmp_path))
    assert result.exit_code == 1 and "--from beads" in result.stderr


def test_empty_array_imports_nothing(mayor_repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text(" [ ]\n")
    result = invoke("import", str(path), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "imported 0 bead(s)" in result.stderr
