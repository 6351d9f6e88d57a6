"""Shared fixtures: every test runs with its own HOME, pinned git identity, and real git."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.fake_anthropic import FakeAnthropic
    from tests.ray_helpers import LocalCluster

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GASTOWN = SHARED / "fixtures" / "gastown-beads"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep tests out of $HOME and away from the developer's git config."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))  # the worktree pools
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Mayor Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@mayor.invalid")
    for var in ("MAYOR_ROOT", "MAYOR_BEAD_ID", "GITHUB_STEP_SUMMARY", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    yield home


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the session's Ray cluster run on one xdist worker (``--dist loadgroup``), so
    the suite starts one cluster, not one per worker."""
    for item in items:
        if "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One real local Ray cluster for the session (tests/ray_helpers.py); skipped without Ray."""
    from tests.ray_helpers import local_cluster

    with local_cluster(tmp_path_factory.mktemp("ray-home")) as made:
        yield made


@pytest.fixture
def cluster(ray_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The session's Ray cluster (``ray.cluster_utils.Cluster``), as it began: no attempt on it and
    two one-CPU workers (put back after the test). Drivers the test starts (``mayor sling``) keep
    to loopback too: without ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` Ray swaps the head's
    127.0.0.1 for the machine's outward address, where this cluster does not listen."""
    from tests.ray_helpers import LOOPBACK_ENV, tidy

    monkeypatch.setenv(*LOOPBACK_ENV)
    yield ray_cluster.cluster
    tidy(ray_cluster)


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository with one commit on main; the current directory."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# test repo\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def mayor_repo(git_repo: Path) -> Path:
    """``git_repo`` after ``mayor init``."""
    from supervisor.commands import init

    assert init.run(cwd=git_repo) == 0
    return git_repo


@pytest.fixture
def repo(mayor_repo: Path) -> Path:
    """A mayor repository whose ``.mayor/`` is ignored (the user's choice), so that the user's
    ``git status`` shows only what the tests put there."""
    with open(mayor_repo / ".git" / "info" / "exclude", "a") as out:
        out.write(".mayor/\n")
    return mayor_repo


@pytest.fixture
def shared_gastown() -> Path:
    if not GASTOWN.is_dir():
        pytest.skip(f"../shared is absent: no gastown-beads fixture at {GASTOWN}")
    return GASTOWN


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The fake Messages API on 127.0.0.1 (tests/fake_anthropic.py), and the environment that
    points the real SDK (and every agent process started from here) at it. Give it scripts with
    ``fake_anthropic.scripts[BEAD_ID] = [...]`` or ``fake_anthropic.default = ...``."""
    from tests.fake_anthropic import FakeAnthropic

    with FakeAnthropic() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake
