"""Where worktrees live: outside the repository and its .git, in a per-user data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.errors import MayorError
from supervisor.run.worktrees import pool_dir
from tests.sling_helpers import add_bead, bead, configure, git, pool, script, sling


def _agent(tmp_path: Path) -> Path:
    return script(
        tmp_path / "agents" / "work.sh",
        'echo "$MAYOR_BEAD_ID" > "out-$MAYOR_BEAD_ID.txt"; pwd > "$MAYOR_RUN_DIR/cwd"\n'
        'git add -A && git commit -q -m "work $MAYOR_BEAD_ID"\n',
    )


def _worktrees(root: Path) -> list[Path]:
    listed = git(root, "worktree", "list", "--porcelain").splitlines()
    return [Path(line.split(" ", 1)[1]) for line in listed if line.startswith("worktree ")]


def test_no_worktree_lies_inside_the_repository_or_its_git_folder(mayor_repo: Path, tmp_path: Path) -> None:
    configure(mayor_repo, {"w": _agent(tmp_path)}, gate="true")
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "config")
    for bead_id in ("p1", "p2"):
        add_bead(mayor_repo, bead_id)

    out = sling(mayor_repo, "-j", "2")

    assert out.returncode == 0, out.stderr
    assert {bead(mayor_repo, b).status for b in ("p1", "p2")} == {"merged"}
    others = [p for p in _worktrees(mayor_repo) if p != mayor_repo]
    assert others, "the run made no worktree"
    for path in others:
        assert mayor_repo not in path.parents, f"{path} is inside the repository"
        assert path.parent == pool(mayor_repo), path
    gates = {p.name for p in others} - {"slot-0", "slot-1"}  # one worktree per gate run at once
    assert {"slot-0", "slot-1", "merge"} <= {p.name for p in others}
    assert gates <= {"merge", "merge-2"}, gates
    ran_in = {Path((mayor_repo / ".mayor" / "runs" / b / "1" / "cwd").read_text().strip()) for b in ("p1", "p2")}
    assert ran_in <= set(others)
    assert not (mayor_repo / ".git" / "mayor").exists()


def test_the_pool_is_per_repository_and_follows_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    repos = []
    for name in ("a", "b"):
        root = tmp_path / name / "same-name"
        root.mkdir(parents=True)
        git(root, "init", "-q")
        repos.append(root)
    first, second = (pool_dir(r) for r in repos)
    assert first != second and first.name.startswith("same-name-") and second.name.startswith("same-name-")
    assert first.parent == tmp_path / "data" / "mayor" / "worktrees"
    assert pool_dir(repos[0], str(tmp_path / "elsewhere")).parent == tmp_path / "elsewhere"


@pytest.mark.parametrize("inside", [".", "pool", ".git/pool"])
def test_a_worktrees_key_inside_the_repository_is_refused(git_repo: Path, inside: str) -> None:
    with pytest.raises(MayorError, match=r"outside the repository and its \.git"):
        pool_dir(git_repo, inside)


def test_a_bad_worktrees_key_stops_sling_before_any_attempt(mayor_repo: Path, tmp_path: Path) -> None:
    configure(mayor_repo, {"w": _agent(tmp_path)})
    config = mayor_repo / ".mayor" / "config.toml"
    config.write_text('worktrees = ".git/pool"\n' + config.read_text())  # top level: before any [table]
    add_bead(mayor_repo, "x1")

    out = sling(mayor_repo)

    assert out.returncode == 1 and "outside the repository and its .git" in out.stderr
    assert bead(mayor_repo, "x1").attempts == []


def test_a_pool_of_an_older_version_under_git_is_moved_out_with_its_branches_kept(
    mayor_repo: Path, tmp_path: Path
) -> None:
    configure(mayor_repo, {"w": _agent(tmp_path)})
    old = mayor_repo / ".git" / "mayor" / "worktrees" / "slot-0"
    old.parent.mkdir(parents=True)
    git(mayor_repo, "worktree", "add", "-q", "-b", "mayor/old1", str(old), "main")
    (old / "kept.txt").write_text("a commit of a bead from before the upgrade\n")
    git(old, "add", "kept.txt")
    git(old, "commit", "-q", "-m", "earlier work")
    git(old, "checkout", "-q", "--detach")
    earlier = git(mayor_repo, "rev-parse", "mayor/old1")
    (old / ".venv-marker").write_text("made by setup\n")  # untracked: survives a move, not a rebuild
    add_bead(mayor_repo, "old1")

    out = sling(mayor_repo)

    assert out.returncode == 0, out.stderr
    assert not old.exists() and not (mayor_repo / ".git" / "mayor" / "worktrees" / "slot-0").exists()
    assert (pool(mayor_repo) / "slot-0").is_dir()
    assert git(mayor_repo, "merge-base", "--is-ancestor", earlier, "main") == ""
    assert (mayor_repo / "kept.txt").exists() or git(mayor_repo, "show", "main:kept.txt")
    assert all(mayor_repo not in p.parents for p in _worktrees(mayor_repo) if p != mayor_repo)


@pytest.mark.parametrize("pattern", ["/etc/hostname", "../outside.txt", "~/.ssh/id_rsa"])
def test_a_copy_pattern_outside_the_repository_is_a_config_error(
    mayor_repo: Path, tmp_path: Path, pattern: str
) -> None:
    configure(mayor_repo, {"w": _agent(tmp_path)}, copy=[pattern])
    add_bead(mayor_repo, "c1")

    out = sling(mayor_repo)

    assert out.returncode == 1 and "copy" in out.stderr and pattern in out.stderr, out.stderr
    assert bead(mayor_repo, "c1").attempts == []


def test_a_symlink_that_points_out_of_the_repository_is_not_copied(mayor_repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for agents\n")
    (mayor_repo / ".env").symlink_to(secret)
    (mayor_repo / ".gitignore").write_text(".env\n")
    git(mayor_repo, "add", ".gitignore")
    git(mayor_repo, "commit", "-q", "-m", "ignore .env")
    agent = script(
        tmp_path / "agents" / "look.sh",
        'if [ -e .env ]; then echo leaked > "$MAYOR_RUN_DIR/leak"; fi\necho x > x.txt && git add x.txt && git commit -qm x\n',
    )
    configure(mayor_repo, {"w": agent}, copy=[".env"])
    git(mayor_repo, "add", "-A")
    git(mayor_repo, "commit", "-q", "-m", "config")
    add_bead(mayor_repo, "c2")

    out = sling(mayor_repo)

    assert out.returncode == 0, out.stderr
    assert not (mayor_repo / ".mayor" / "runs" / "c2" / "1" / "leak").exists()
