from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from supervisor.cli import app


def test_add_then_ready(mayor_repo: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["add", "First", "-p", "1"])
    assert first.exit_code == 0, first.output
    bead_id = first.stdout.strip()
    assert (mayor_repo / ".mayor" / "beads" / f"{bead_id}.json").exists()
    out = runner.invoke(app, ["ready", "--json"])
    assert out.exit_code == 0
    assert bead_id in out.stdout
