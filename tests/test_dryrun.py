"""``supervisor.run.dryrun``: the beads whose agent cannot run, each with its reason."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from beads.models import Bead
from supervisor.repo import open_repo
from supervisor.run.dryrun import describe, unrunnable


def configure(root: Path, text: str) -> None:
    (root / ".mayor" / "config.toml").write_text(text)


def beads(*agents: str | None) -> list[Bead]:
    return [Bead(id=f"b{n}", title="t", agent=agent) for n, agent in enumerate(agents)]


def test_beads_on_the_builtin_agent_without_a_key_are_named(mayor_repo: Path) -> None:
    configure(mayor_repo, 'agent = "builtin"\n[agents.w]\ncommand = "true"\n')
    found = unrunnable(open_repo(), beads(None, "w", "builtin"), None)
    assert [bead_id for bead_id, _ in found] == ["b0", "b2"]
    assert all("needs ANTHROPIC_API_KEY" in reason for _, reason in found)
    assert describe(found).startswith("b0, b2: agent 'builtin' is the built-in Claude agent")


def test_with_the_key_set_every_bead_can_run(mayor_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    configure(mayor_repo, '[agents.w]\ncommand = "true"\n')
    assert unrunnable(open_repo(), beads(None, "w"), None) == []


def test_an_agent_no_entry_defines_gets_did_you_mean(mayor_repo: Path) -> None:
    configure(mayor_repo, 'agent = "w"\n[agents.w]\ncommand = "true"\n')
    [(bead_id, reason)] = unrunnable(open_repo(), beads(None, "ww"), None)
    assert bead_id == "b1" and reason.startswith("no agent 'ww' (did you mean 'w'?)")


def test_the_override_decides_for_every_bead(mayor_repo: Path) -> None:
    configure(mayor_repo, 'agent = "w"\n[agents.w]\ncommand = "true"\n')
    assert unrunnable(open_repo(), beads(None, "builtin"), "w") == []
    assert [b for b, _ in unrunnable(open_repo(), beads(None, "w"), "builtin")] == ["b0", "b1"]


def test_an_external_cli_not_on_path(mayor_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    [(_, reason)] = unrunnable(open_repo(), beads("codex"), None)
    assert "'codex', which is not on PATH" in reason
    exe = tmp_path / "codex"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    assert os.access(exe, os.X_OK)
    assert unrunnable(open_repo(), beads("codex"), None) == []
