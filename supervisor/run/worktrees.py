"""The worktree pool: one reusable worktree per slot, outside the repository and its ``.git``.

Worktrees live in a per-user data folder, ``$XDG_DATA_HOME/mayor/worktrees/<repo>-<hash>/``
(``~/.local/share/...`` by default; the ``worktrees`` key of the config names another base):
``slot-N`` for the slots and ``merge`` for the merge queue's gate. There, tools run at the
repository root (pytest, ruff, grep, IDEs) never see them, and agent CLIs that protect every path
inside a ``.git`` folder (Claude Code does) can edit freely. ``<hash>`` comes from the
repository's git folder, so two clones with the same name never share a pool.

A slot's worktree is made once (``setup`` runs then, ``copy`` files are copied in) and reused: a
new bead only switches it to ``mayor/<id>`` and cleans it, keeping ignored files such as a
virtualenv that ``setup`` made. Pools of older versions, under ``<git-common-dir>/mayor/``, are
moved here by :func:`adopt_legacy_pool` (or removed: every bead's commits are on its branch).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from beads.paths import inside
from supervisor.errors import MayorError
from supervisor.gitops import common_dir, rev
from supervisor.proc import git, run
from supervisor.run.workenv import SETUP_HINT, setup_env

PORTS_PER_SLOT = 10
FIRST_PORT = 20000
ADMIN_LOCK = threading.Lock()
"""Serializes ``git worktree add`` and ``prune`` in this process: a prune that runs while another
worktree is being added deletes its half-made admin folder, and that add fails."""


def pool_dir(repo_root: Path, configured: str | None = None) -> Path:
    """This repository's pool folder: ``<base>/<repo name>-<hash of its git folder>``.

    ``configured`` (the config's ``worktrees``) replaces the default base; a base inside the
    repository or its git folder is refused, for the reasons in the module docstring."""
    common = common_dir(repo_root).resolve()
    if configured:
        base = Path(os.path.expandvars(configured)).expanduser()
        base = base if base.is_absolute() else (repo_root / base)
    else:
        data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        base = Path(data) / "mayor" / "worktrees"
    base = base.resolve()
    for guarded in (repo_root.resolve(), common):
        if base == guarded or guarded in base.parents:
            raise MayorError(
                f"worktrees = {str(configured)!r} puts the worktree pool inside {guarded}; agents' worktrees must "
                "lie outside the repository and its .git (tools and agent CLIs treat files there specially): "
                "choose a folder elsewhere, or remove the key to use the default (~/.local/share/mayor/worktrees)"
            )
    digest = hashlib.sha256(str(common).encode()).hexdigest()[:8]
    return base / f"{repo_root.resolve().name}-{digest}"


def legacy_pool(repo_root: Path) -> list[Path]:
    """Worktrees that older versions kept inside the git folder (``<common>/mayor/...``)."""
    old = common_dir(repo_root) / "mayor"
    return sorted(p for p in [*old.glob("worktrees/slot-*"), old / "merge"] if p.is_dir())


def adopt_legacy_pool(repo_root: Path, pool: Path) -> list[str]:
    """Move an older version's worktrees out of the git folder into ``pool`` (``git worktree
    move``: setup's virtualenvs survive); one that cannot be moved is removed, which loses no
    commit (a bead's commits are on its branch ``mayor/<id>``). What was done, one line each."""
    done = []
    for old in legacy_pool(repo_root):
        new = pool / old.name
        pool.mkdir(parents=True, exist_ok=True)
        with ADMIN_LOCK:
            moved = not new.exists() and run(["git", "worktree", "move", str(old), str(new)], repo_root, check=False)
            if moved and moved.returncode == 0:
                done.append(f"moved {old} to {new}")
                continue
            run(["git", "worktree", "remove", "--force", str(old)], repo_root, check=False)
            shutil.rmtree(old, ignore_errors=True)
            git("worktree", "prune", cwd=repo_root)
        done.append(f"removed {old} (its beads' commits are on their branches)")
    return done


class SetupFailed(MayorError):
    """``setup`` failed in a fresh worktree: a problem of the run's config, not of a bead."""

    def __init__(self, setup: str, code: int, output: str) -> None:
        hint = f"; {SETUP_HINT}" if "virtualenv" in output else ""
        super().__init__(f"setup `{setup}` failed in a fresh worktree (exit {code}): {output[-1500:]}{hint}")
        self.code = code


def kill_processes_in(folder: Path) -> list[int]:
    """SIGKILL every process (but this one) whose working directory is ``folder`` or inside it."""
    killed = []
    root = folder.resolve()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        pid = int(proc.name)
        if pid != os.getpid() and (cwd == root or root in cwd.parents):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


def branch_name(bead_id: str) -> str:
    return f"mayor/{bead_id}"


def _ports_free(first: int, count: int) -> bool:
    for port in range(first, first + count):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


class Pool:
    """Worktrees by slot number, for one repository."""

    def __init__(
        self,
        repo_root: Path,
        setup: str | None = None,
        copy_files: list[str] | None = None,
        base: Path | None = None,
        notify: Callable[[Path], object] | None = None,
    ) -> None:
        self.repo_root = repo_root
        self.notify = notify
        """Told of each ``setup`` run as it starts (the worktree): the ``setup_started`` event."""
        self.base = base or pool_dir(repo_root)
        self.setup = setup
        self.copy_files = copy_files or []
        self._ports: dict[int, int] = {}
        self.created = 0
        self.reused = 0

    def path(self, slot: int) -> Path:
        return self.base / f"slot-{slot}"

    def port(self, slot: int) -> int:
        """The first of a block of free ports for ``slot`` (``MAYOR_PORT``)."""
        if slot not in self._ports:
            first = FIRST_PORT + slot * PORTS_PER_SLOT
            while not _ports_free(first, PORTS_PER_SLOT) or first in self._ports.values():
                first += PORTS_PER_SLOT * 64
                if first > 65000:
                    raise MayorError("no block of free ports on 127.0.0.1 for an agent slot")
            self._ports[slot] = first
        return self._ports[slot]

    def prepare(self, slot: int, bead_id: str, start_point: str, known_clean: bool = False) -> Path:
        """The slot's worktree on ``mayor/<id>``: the existing branch if there is one (a retry
        keeps its commits), else a new branch at ``start_point``.

        ``known_clean``: the last bead left nothing uncommitted (its leftovers were committed),
        so the forced checkout alone is enough and the full clean is skipped.
        """
        path = self.path(slot)
        self.evict(slot)
        if path.exists() and run(["git", "rev-parse", "--git-dir"], path, check=False).returncode:
            self.discard(slot)  # its .git was deleted or corrupted: make it anew
        if not (path / ".git").exists():
            self.make(path, start_point)
        else:
            self.reused += 1
            if not known_clean:
                self.clean(path)
        branch = branch_name(bead_id)
        if rev(f"refs/heads/{branch}", self.repo_root):
            git("checkout", "-q", "-f", "--ignore-other-worktrees", branch, cwd=path)
        else:
            git("checkout", "-q", "-f", "-B", branch, start_point, cwd=path)
        return path

    def make(self, path: Path, start_point: str) -> None:
        """A fresh worktree at ``path`` (detached at ``start_point``), ``copy`` files copied in and
        ``setup`` run: the slots' and the gate's alike."""
        self.created += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.rmtree(path)
        with ADMIN_LOCK:
            git("worktree", "prune", cwd=self.repo_root)
            git("worktree", "add", "-q", "--detach", str(path), start_point, cwd=self.repo_root)
        self._copy_in(path)
        if self.setup:
            if self.notify is not None:
                self.notify(path)
            proc = run(["bash", "-c", self.setup], path, check=False, base=setup_env())
            if proc.returncode != 0:
                shutil.rmtree(path, ignore_errors=True)
                with ADMIN_LOCK:
                    git("worktree", "prune", cwd=self.repo_root)
                raise SetupFailed(self.setup, proc.returncode, (proc.stdout + proc.stderr).strip())

    def _copy_in(self, path: Path) -> None:
        for pattern in self.copy_files:
            for source in self.repo_root.glob(pattern):
                if not inside(self.repo_root, source):  # a symlink that points out of the repository
                    continue
                dest = path / source.relative_to(self.repo_root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, dest, dirs_exist_ok=True)
                elif source.is_file():
                    shutil.copy2(source, dest)

    @staticmethod
    def clean(path: Path) -> None:
        """Throw away uncommitted changes and untracked files; keep ignored ones."""
        git("reset", "-q", "--hard", cwd=path)
        git("clean", "-q", "-fd", cwd=path)

    def release(self, slot: int) -> None:
        """Detach the slot's HEAD so its bead branch can be checked out elsewhere (a worktree an
        agent broke is thrown away, to be made anew)."""
        path = self.path(slot)
        if (path / ".git").exists() and run(["git", "checkout", "-q", "--detach"], path, check=False).returncode:
            self.discard(slot)

    def discard(self, slot: int) -> None:
        """Throw a slot's worktree away (the next bead there gets a fresh one); commits stay on branches."""
        path = self.path(slot)
        with ADMIN_LOCK:
            run(["git", "worktree", "remove", "--force", str(path)], self.repo_root, check=False)
            shutil.rmtree(path, ignore_errors=True)
            git("worktree", "prune", cwd=self.repo_root)

    def evict(self, slot: int) -> list[int]:
        """Kill every process still working in the slot's worktree (daemons an agent left behind,
        in a session of their own); the pids killed."""
        return kill_processes_in(self.path(slot))

    def unlock(self, slot: int) -> list[str]:
        """Remove the git locks a killed agent left in the slot's worktree; the names removed.

        Call only once the agent's whole process group is gone: then nothing can hold them.
        """
        path = self.path(slot)
        if not (path / ".git").exists():
            return []
        gitdir = Path(git("rev-parse", "--absolute-git-dir", cwd=path))
        removed = [name for name in ("index.lock", "HEAD.lock") if (gitdir / name).exists()]
        for name in removed:
            (gitdir / name).unlink(missing_ok=True)
        return removed

    def existing(self) -> list[Path]:
        return sorted(p for p in self.base.glob("slot-*") if p.is_dir()) if self.base.is_dir() else []
