"""The gate runs of the merge queue: a pool of gate worktrees, one thread per run, verdicts by tree.

Each gate worktree lives beside the slots (``merge``, ``merge-2``, ...), is made once with the
repository's ``copy`` files and ``setup`` the first time it is needed, and is reused, checked out
afresh, for every later run. A run is :class:`GateRun`: its thread runs the gate on one commit (and
again, ``gate_retries`` times, on a failure: a pass then makes it ``flaky``), records its process
group on disk while it runs (a restart stops those a killed supervisor left), and can be cancelled
(the group is killed) when the candidate it gates is discarded. Only the merge thread starts and
reads runs; a run's thread writes nothing but its own run and the gate's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from supervisor import gitops
from supervisor.errors import MayorError
from supervisor.proc import git, run, run_group
from supervisor.run.groups import GroupRecords
from supervisor.run.workenv import worktree_env
from supervisor.run.worktrees import ADMIN_LOCK


class GateCannotRun(MayorError):
    """The gate exits 126 or 127 on the bare target: a missing or unrunnable command, a config error."""


@dataclass
class GateRun:
    """One gate verdict on one commit: run now, or known from a tree gated before."""

    commit: str
    tree: str
    log: Path
    beads: list[str]
    """The beads whose work the commit holds beyond the target (empty: the target alone)."""
    passed: bool | None = None
    """None while it runs; never None once :attr:`finished` is set."""
    flaky: bool = False
    code: int | None = None
    runs: int = 0
    """Gate processes this verdict took (0 when the tree's verdict was known)."""
    cancelled: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    pgid: int | None = None

    def settle(self, passed: bool, code: int | None = None) -> GateRun:
        self.passed, self.code = passed, code
        self.finished.set()
        return self


Notify = Callable[[GateRun], object]


class GatePool:
    """Gate worktrees and the runs in them; used by the merge thread only (runs report back
    through :class:`GateRun` and the ``wake`` callback)."""

    def __init__(
        self,
        root: Path,
        target: str,
        gate: str | None,
        base: Path,
        capacity: int,
        groups: GroupRecords,
        *,
        timeout: float = 1800.0,
        retries: int = 1,
        make: Callable[[Path, str], None] | None = None,
        notify: Notify | None = None,
    ) -> None:
        self.root, self.target, self.gate, self.base = root, target, gate, base
        self.capacity = max(1, capacity)
        self.groups, self.timeout, self.retries = groups, timeout, retries
        self.make, self.notify = make, notify
        self.green_trees: set[str] = set()
        """Trees the gate passed on in this run: a tip with one of these is known green."""
        self.red_trees: dict[str, Path] = {}
        """Trees the gate failed on, retries included, with the log that says how (a bisection
        need not gate them again)."""
        self.wake: Callable[[], None] = lambda: None
        """Called from a run's thread when it has finished (the merge thread waits on its inbox)."""
        self.runs = 0
        """Gate processes started in this run."""
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._idle = list(range(self.capacity))
        self._threads: list[threading.Thread] = []

    def path(self, index: int) -> Path:
        return self.base / ("merge" if index == 0 else f"merge-{index + 1}")

    # -- runs ------------------------------------------------------------------------------
    def free(self) -> int:
        with self._lock:
            return len(self._idle)

    def known(self, commit: str, log: Path, beads: list[str], tree: str | None = None) -> GateRun | None:
        """The verdict on ``commit`` without running anything: no gate, or its tree gated before."""
        tree = tree or gitops.tree_of(commit, self.root)
        gate_run = GateRun(commit, tree, log, beads)
        if not self.gate or tree in self.green_trees:
            return gate_run.settle(True)
        if tree in self.red_trees:
            gate_run.log = self.red_trees[tree]
            return gate_run.settle(False)
        return None

    def start(self, commit: str, log: Path, beads: list[str]) -> GateRun | None:
        """A verdict on ``commit``: known, or a run started in a free worktree; None if none is free."""
        tree = gitops.tree_of(commit, self.root)
        known = self.known(commit, log, beads, tree)
        if known is not None:
            return known
        with self._lock:
            if not self._idle:
                return None
            index = self._idle.pop(0)
        gate_run = GateRun(commit, tree, log, beads)
        thread = threading.Thread(target=self._main, args=(gate_run, index), name=f"gate-{index}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return gate_run

    def record(self, gate_run: GateRun) -> None:
        """Remember a finished run's verdict by tree (merge thread)."""
        if gate_run.passed:
            self.green_trees.add(gate_run.tree)
        elif not gate_run.cancelled and gate_run.code not in (None, 126, 127):
            self.red_trees[gate_run.tree] = gate_run.log

    def cancel(self, gate_run: GateRun) -> None:
        """Stop a run whose candidate was discarded: its process group is killed."""
        gate_run.cancelled = True
        if gate_run.pgid is not None and not gate_run.finished.is_set():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(gate_run.pgid, signal.SIGKILL)

    def join(self) -> None:
        """Wait for every run's thread (after cancelling what is not wanted)."""
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _main(self, gate_run: GateRun, index: int) -> None:
        try:
            path = self.checkout(index, gate_run.commit)
            gate_run.log.parent.mkdir(parents=True, exist_ok=True)
            code: int | None = None
            for round_ in range(1 + self.retries):
                if gate_run.cancelled:
                    break
                code = self._once(path, gate_run, append=round_ > 0)
                if code == 0:
                    gate_run.flaky = round_ > 0
                    break
            gate_run.settle(code == 0 and not gate_run.cancelled, code)
        except BaseException as exc:  # a worktree that cannot be made: the verdict says so
            with contextlib.suppress(OSError), open(gate_run.log, "a", encoding="utf-8") as out:
                out.write(f"\nmayor: the gate could not run: {exc}\n")
            gate_run.settle(False, None)
        finally:
            with self._lock:
                self._idle.append(index)
                self._free.notify_all()
            self.wake()

    def _once(self, path: Path, gate_run: GateRun, append: bool) -> int:
        env = {"MAYOR_CANDIDATE": gate_run.commit, "MAYOR_TARGET": self.target}
        with self._lock:
            self.runs += 1
        gate_run.runs += 1
        if self.notify is not None:
            self.notify(gate_run)
        with open(gate_run.log, "ab" if append else "wb") as out, self.groups.recording() as started:

            def on_start(pgid: int) -> None:
                started.append(pgid)
                gate_run.pgid = pgid
                self.groups.record(pgid, f"the gate on {gate_run.commit[:12]}")
                if gate_run.cancelled:  # cancelled between the check and the start
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)

            base = worktree_env(path)
            code = run_group(self.gate or "true", path, env, self.timeout, out, base=base, on_start=on_start)
            if code is None:
                out.write(f"\nmayor: the gate timed out after {self.timeout:.0f}s\n".encode())
                return 124
        return code

    # -- the target alone ------------------------------------------------------------------
    def check_target(self, tip: str, log: Path) -> bool:
        """Run the gate once on the target alone (in this thread), unless its tree is known green.
        Exit 126/127 (the command cannot run) raises :class:`GateCannotRun`: a config error."""
        tree = gitops.tree_of(tip, self.root)
        known = self.known(tip, log, [], tree)
        if known is not None:
            return bool(known.passed)
        with self._free:
            self._free.wait_for(lambda: bool(self._idle))
            index = self._idle.pop(0)
        gate_run = GateRun(tip, tree, log, [])
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            code = self._once(self.checkout(index, tip), gate_run, append=False)
        finally:
            with self._lock:
                self._idle.append(index)
                self._free.notify_all()
        if code in (126, 127):
            tail = log.read_text(errors="replace").strip()[-800:]
            raise GateCannotRun(
                f"the gate `{self.gate}` cannot run (exit {code}) on {self.target}: {tail}; "
                "fix `gate` in .mayor/config.toml (or --gate) and run mayor sling again"
            )
        self.record(gate_run.settle(code == 0, code))
        return code == 0

    # -- worktrees -------------------------------------------------------------------------
    def checkout(self, index: int, commit: str) -> Path:
        """Gate worktree ``index`` at ``commit`` (made, with ``setup``, on first use)."""
        path = self.path(index)
        if not (path / ".git").exists():
            self.ensure_worktree(index, commit)
            return path
        git("checkout", "-q", "-f", "--detach", commit, cwd=path)
        git("clean", "-q", "-fd", cwd=path)
        return path

    def ensure_worktree(self, index: int, commit: str) -> Path:
        path = self.path(index)
        if (path / ".git").exists():
            return path
        if self.make is not None:
            self.make(path, commit)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        with ADMIN_LOCK:
            git("worktree", "prune", cwd=self.root)
            run(["git", "worktree", "add", "-q", "--detach", str(path), commit], self.root)
        return path
