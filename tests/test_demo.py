"""mayor demo end to end in a temporary folder: offline, no key, every promise of the demo kept."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

from tests.sling_helpers import MAYOR, RUN_TIMEOUT_S, first_parents, gate_passes


def _events(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / ".mayor" / "events.jsonl").read_text().splitlines()]


def test_demo_runs_the_whole_loop_offline(tmp_path: Path) -> None:
    where = tmp_path / "demo"
    out = subprocess.run(
        [str(MAYOR), "demo", "--dir", str(where)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S * 2,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == str(where)
    beads = [json.loads(p.read_text()) for p in (where / ".mayor" / "beads").glob("*.json")]
    assert 6 <= len(beads) <= 8 and {b["status"] for b in beads} == {"merged"}
    assert any(b["attempts"][0]["outcome"] == "check_failed" for b in beads), "one bead needs a second attempt"
    log = _events(where)
    conflicted = {e["bead"] for e in log if e["type"] == "conflict"}
    assert conflicted and all(any(e["type"] == "merged" and e["bead"] == b for e in log) for b in conflicted)
    assert (
        "- slugify()" in (where / "CHANGELOG.md").read_text() and "- truncate()" in (where / "CHANGELOG.md").read_text()
    )
    gate = tomllib.loads((where / ".mayor" / "config.toml").read_text())["gate"]
    for sha, _parents, _subject in first_parents(where):
        ok, output = gate_passes(where, sha, gate)
        assert ok, output
    deps_first = {e["bead"]: e["seq"] for e in log if e["type"] == "merged"}
    for bead in beads:
        started = min(e["seq"] for e in log if e["type"] == "slung" and e["bead"] == bead["id"])
        assert all(deps_first[d] < started for d in bead["deps"])


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    out = subprocess.run([str(MAYOR), "demo", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "not empty" in out.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
