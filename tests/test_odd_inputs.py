"""Inputs that validation used to accept and later code could not handle: each is now either
refused at the door with exit 1 and a line naming it, or read so that every command works."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from beads.models import Bead, id_problem
from beads.paths import copy_pattern_problem, inside
from tests.sling_helpers import MAYOR, bead, configure, git, mayor, script, sling

WORK = """
echo "$MAYOR_BEAD_ID" > "work-$MAYOR_BEAD_ID.txt"
git add -A && git commit -q -m "work on $MAYOR_BEAD_ID"
"""


def _import(repo: Path, tmp_path: Path, *records: object, raw: str | None = None) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "in.jsonl"
    source.write_text(raw if raw is not None else "\n".join(json.dumps(r) for r in records) + "\n")
    return mayor(repo, "import", str(source))


def _ready(repo: Path, tmp_path: Path) -> None:
    configure(repo, {"a": script(tmp_path / "agent.sh", WORK)})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "config")


@pytest.mark.parametrize("bad", ["x.lock", "a..b", "dot.", ".dot", "-a", "a b", "a/b", "a\x01b", "x" * 65])
def test_ids_git_refuses_are_refused_at_import(mayor_repo: Path, tmp_path: Path, bad: str) -> None:
    run = _import(mayor_repo, tmp_path, {"id": bad, "title": "t"})
    assert run.returncode == 1, run.stderr
    assert "nothing was imported" in run.stderr
    assert id_problem(bad) is not None


@pytest.mark.parametrize("good", ["mr-4f2a", "a.b", "A_1-x", "x", "v1.2.3"])
def test_ids_git_accepts_still_work(good: str, git_repo: Path) -> None:
    assert id_problem(good) is None
    assert subprocess.run(["git", "check-ref-format", "--branch", f"mayor/{good}"], cwd=git_repo).returncode == 0


def test_naive_timestamps_are_utc_and_every_command_works(mayor_repo: Path, tmp_path: Path) -> None:
    run = _import(
        mayor_repo,
        tmp_path,
        {"title": "naive", "created_at": "2026-01-01T00:00:00", "updated_at": "2026-01-01T00:00:00"},
        {"title": "aware", "created_at": "2026-01-01T00:00:00+02:00"},
    )
    assert run.returncode == 0, run.stderr
    naive = next(b for b in json.loads(mayor(mayor_repo, "list", "--json").stdout) if b["title"] == "naive")
    assert naive["created_at"].endswith(("Z", "+00:00"))
    _ready(mayor_repo, tmp_path)
    for args in (["list"], ["ready"], ["summary"], ["status"], ["blocked"], ["graph"]):
        out = mayor(mayor_repo, *args)
        assert out.returncode == 0, (args, out.stderr)
    assert sling(mayor_repo).returncode == 0


def test_imported_running_bead_without_attempts_is_open_and_slings(mayor_repo: Path, tmp_path: Path) -> None:
    run = _import(mayor_repo, tmp_path, {"id": "run1", "title": "was running", "status": "running"})
    assert run.returncode == 0, run.stderr
    assert bead(mayor_repo, "run1").status == "open"
    _ready(mayor_repo, tmp_path)
    for args in (["list"], ["ready"], ["summary"]):
        assert mayor(mayor_repo, *args).returncode == 0
    done = sling(mayor_repo)
    assert done.returncode == 0, done.stderr
    assert bead(mayor_repo, "run1").status == "merged"


def test_lone_surrogate_in_a_title_is_refused(mayor_repo: Path, tmp_path: Path) -> None:
    run = _import(mayor_repo, tmp_path, raw='{"title": "bad \\ud800 title"}\n')
    assert run.returncode == 1, run.stderr
    assert "in.jsonl:1" in run.stderr and "crash" not in run.stderr
    added = mayor(mayor_repo, "add", "x\udc80y", env={**os.environ, "PYTHONUTF8": "1"})
    assert added.returncode in (0, 1, 2), added.stderr  # surrogateescape'd argv: refused or kept, never a crash
    assert mayor(mayor_repo, "list").returncode == 0


@pytest.mark.parametrize("depth", [100, 5000, 200_000])
def test_deeply_nested_json_is_named_not_a_crash(mayor_repo: Path, tmp_path: Path, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    for raw in (nested, '{"title": "t", "source": {"a": ' + nested + "}}"):
        run = _import(mayor_repo, tmp_path, raw=raw + "\n")
        assert run.returncode == 1, run.stderr
        assert "in.jsonl" in run.stderr and "unexpected" not in run.stderr
    assert mayor(mayor_repo, "list").returncode == 0


def _on_a_terminal(repo: Path, *args: str) -> tuple[int, str]:
    """``mayor ARGS`` with stdout on a pseudo-terminal (rich draws a table there)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [str(MAYOR), *args], cwd=repo, stdout=child, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(main)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def test_rich_markup_in_a_title_prints_as_written_on_a_terminal(mayor_repo: Path, tmp_path: Path) -> None:
    assert _import(mayor_repo, tmp_path, {"title": "[/bold] and [red]x"}).returncode == 0
    code, screen = _on_a_terminal(mayor_repo, "list")
    assert code == 0, screen
    assert "[/bold]" in screen and "[red]x" in screen


@pytest.mark.parametrize("pattern", ["/etc/hostname", "../outside", "a/../../b", "~/.ssh/id_rsa", "", "a\nb"])
def test_copy_patterns_outside_the_repository_are_named(pattern: str) -> None:
    assert copy_pattern_problem(pattern) is not None


def test_copy_patterns_inside_are_fine_and_symlinks_out_are_caught(tmp_path: Path) -> None:
    assert copy_pattern_problem(".env") is None and copy_pattern_problem("conf/*.toml") is None
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "out").symlink_to("/etc")
    assert not inside(tmp_path / "repo", tmp_path / "repo" / "out" / "hostname")
    assert inside(tmp_path / "repo", tmp_path / "repo" / "in.txt")


def test_a_bead_that_is_written_can_always_be_read_back() -> None:
    source: dict[str, object] = {}
    cur = source
    for _ in range(40):
        cur["a"] = {}
        cur = cur["a"]  # type: ignore[assignment]
    with pytest.raises(ValueError):
        Bead(id="deep", title="t", source=source)
    ok = Bead(id="ok", title="t", source={"a": {"b": [1, {"c": 2}]}})
    assert Bead.model_validate_json(ok.to_json()) == ok
    assert sys.getrecursionlimit() > 32
