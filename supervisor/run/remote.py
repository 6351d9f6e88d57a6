"""One attempt on a node that shares no filesystem with the supervisor: the git-only contract.

Supervisor to node: a :class:`RemoteSpec` (the bead, attempt n, base commit, branch, prompt,
feedback, the agent's command line and environment, timeouts) and a git bundle made by
:func:`ship` (the base commit, plus the bead's branch on a retry). Node to supervisor: a
:class:`RemoteResult` (how the agent ended, the branch head, a bundle of ``base..head``, the
acceptance checks, the run folder's small files). The supervisor takes the branch in with
:func:`receive` and judges and lands it as local work. Nothing here imports Ray: the node side,
:func:`run_remote_attempt`, is a plain function that any transport can call.

On a node, under ``workdir/<repo id>/``::

    clone.git/           a bare clone, kept between attempts; objects arrive from bundles only
    clone.lock           flock: fetches, ref updates and worktree admin, one attempt at a time
    worktrees/slot-N     reused worktrees (the local run's Pool); slot-N.lock is held by the
                         attempt working there (the kernel drops it if the node's process dies)
    limiter/             the built-in agent's shared rate limiter, for every attempt on this node
    runs/<bead>/<n>/     the attempt's run folder: agent.log, agent.json, exit_status, result.json...
    runs/<bead>/<n>/site/.mayor/events.jsonl   what the agent's ``mayor emit`` wrote (forwarded)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from beads.models import Bead
from supervisor import gitops
from supervisor.agents.context import NO_CONTEXT, read_context
from supervisor.errors import MayorError
from supervisor.proc import git, run
from supervisor.run import evidence
from supervisor.run.agentproc import AgentProcess, ExitReason, StopReason
from supervisor.run.worktrees import Pool

Emit = Callable[[str, dict[str, Any]], None]
"""How the node reports an event: its type (an ``EventType`` value or an agent's own) and data."""
FILES = ("result.json", "usage.json", "transcript.json", "checks.log", "exit_status", "agent.json")
"""The run folder's small files sent back whole (``agent.log`` is sent up to :data:`LOG_CAP`)."""
LOG_CAP = 8 << 20
SHIP_REFS = "refs/mayor/ship"


@dataclass(frozen=True)
class RemoteSpec:
    """What the supervisor sends for one attempt (with a bundle from :func:`ship`)."""

    repo_id: str
    """Names the node-local clone (:func:`repo_id`): attempts of one repository share it."""
    bead_json: str
    """The bead as slung (``Bead.to_json()``); its acceptance checks run on the node."""
    attempt: int
    base: str
    """The commit the attempt starts from (the target's good tip)."""
    branch: str
    """``mayor/<id>``: taken from the bundle when it holds it (a retry keeps its commits), else made at ``base``."""
    target: str
    """The target's name, set at ``base`` in the node's clone (agents may diff against it)."""
    prompt: str
    feedback: str
    command: str
    """The agent's command line, as the supervisor's adapter built it."""
    env: dict[str, str]
    """The agent's environment from the supervisor; paths of the supervisor's disk are replaced."""
    timeout: float
    idle_timeout: float
    context: str = ""
    """``state/context.md`` of the run (the built-in agent's shared prefix)."""
    setup: str | None = None
    """Run once in each new node worktree, as the local pool runs it."""
    merge_target: bool = False
    """A retry after a conflict: merge ``base`` into the branch before the agent starts, markers
    left for it to resolve (as the local attempt does)."""


@dataclass
class RemoteResult:
    """What the node sends back; :func:`receive` takes its branch in."""

    node: str
    code: int | None
    """The agent's exit status (None when killed)."""
    reason: ExitReason
    """As :class:`~supervisor.run.agentproc.Exit`: ``exited``, ``timeout``, ``idle``, ``cancelled``..."""
    head: str
    """The branch head after leftovers were committed (``base`` when nothing was done)."""
    bundle: bytes
    """``base..head`` of the branch; empty when ``head`` is ``base``."""
    detail: str = ""
    error: str = ""
    """The attempt could not run on the node (clone, bundle, worktree, setup): the supervisor's ``setup_failed``."""
    moved: str | None = None
    """What :func:`evidence.back_on_branch` did, if the agent left its branch."""
    leftovers: bool = False
    markers: list[str] = field(default_factory=list)
    """Files whose changes against ``base`` hold conflict markers."""
    checks: list[evidence.CheckResult] = field(default_factory=list)
    """Run only when the agent exited 0 and left no conflict markers."""
    log_tail: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    """``agent.log`` and :data:`FILES` that exist: write them into the local run folder, then the
    adapter's ``report()`` reads them as after a local attempt."""
    timings: dict[str, float] = field(default_factory=dict)


def repo_id(repo_root: Path) -> str:
    """A name for the repository that is the same from every supervisor start: its folder's name
    and a hash of its git folder (as the local pool names its folder)."""
    common = gitops.common_dir(repo_root).resolve()
    return f"{repo_root.resolve().name}-{hashlib.sha256(str(common).encode()).hexdigest()[:8]}"


# -- the supervisor's end --------------------------------------------------------------------------
def ship(repo_root: Path, base: str, branch: str) -> bytes:
    """A bundle of everything the node needs: ``base`` and, if it exists, ``branch``.

    ``git bundle`` records refs only, so ``base`` rides under a temporary ``refs/mayor/ship/`` ref,
    removed again whatever happens."""
    with _temporary_ref(repo_root, base) as base_ref:
        refs = [base_ref]
        if gitops.rev(f"refs/heads/{branch}", repo_root):
            refs.append(f"refs/heads/{branch}")
        return _bundle(repo_root, refs)


def receive(repo_root: Path, result: RemoteResult, branch: str) -> str:
    """Set ``branch`` in the supervisor's repository to the node's head, fetching its bundle; the head."""
    if result.bundle:
        with tempfile.NamedTemporaryFile(suffix=".bundle") as handle:
            handle.write(result.bundle)
            handle.flush()
            git("fetch", "-q", "--no-tags", handle.name, f"+refs/heads/{branch}:{SHIP_REFS}/in/{branch}", cwd=repo_root)
        git("update-ref", "-d", f"{SHIP_REFS}/in/{branch}", cwd=repo_root)
    git("update-ref", "-m", "mayor: branch from a node", f"refs/heads/{branch}", result.head, cwd=repo_root)
    return result.head


def spec_from_run_dir(
    repo_root: Path, run_dir: Path, command: str, env: dict[str, str], target: str, timeout: float, idle_timeout: float
) -> RemoteSpec:
    """The spec of the attempt whose run folder the supervisor has just written (``bead.json``,
    ``prompt.md``, ``feedback.md``, ``base``), with ``env`` the agent's environment as built for a
    local launch (its paths are replaced on the node) and ``MAYOR_CONTEXT_FILE`` read if set."""
    bead = Bead.model_validate_json((run_dir / "bead.json").read_text())
    context = Path(env["MAYOR_CONTEXT_FILE"]) if env.get("MAYOR_CONTEXT_FILE") else None
    return RemoteSpec(
        repo_id=repo_id(repo_root),
        bead_json=bead.to_json(),
        attempt=int(run_dir.name),
        base=(run_dir / "base").read_text().strip(),
        branch=f"mayor/{bead.id}",
        target=target,
        prompt=(run_dir / "prompt.md").read_text(),
        feedback=(run_dir / "feedback.md").read_text() if (run_dir / "feedback.md").exists() else "",
        command=command,
        env=dict(env),
        timeout=timeout,
        idle_timeout=idle_timeout,
        context=read_context(context) if context else NO_CONTEXT,
    )


def write_back(run_dir: Path, result: RemoteResult) -> None:
    """The node's run-folder files into the local run folder, so that the adapter's ``report()``,
    the budget and ``mayor status`` read them as after a local attempt."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, data in result.files.items():
        if "/" not in name and name in (*FILES, "agent.log"):
            (run_dir / name).write_bytes(data)


@contextlib.contextmanager
def _temporary_ref(repo: Path, commit: str) -> Iterator[str]:
    ref = f"{SHIP_REFS}/{uuid.uuid4().hex}"
    git("update-ref", ref, commit, cwd=repo)
    try:
        yield ref
    finally:
        run(["git", "update-ref", "-d", ref], repo, check=False)


def _bundle(repo: Path, revs: list[str]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mayor-bundle-") as tmp:
        path = Path(tmp) / "b.bundle"
        git("bundle", "create", "-q", str(path), *revs, cwd=repo)
        return path.read_bytes()


# -- the node's end --------------------------------------------------------------------------------
def run_remote_attempt(
    spec: RemoteSpec,
    bundle: bytes,
    workdir: Path,
    emit: Emit,
    node: str = "local",
    stop: Callable[[], StopReason | None] = lambda: None,
) -> RemoteResult:
    """Run one attempt on this machine: clone, worktree, agent, leftovers, checks; the result.

    ``stop`` is asked on every poll of the agent (cancel, budget, interrupted); ``node`` becomes
    the agent's ``MAYOR_NODE``. Never raises for the attempt's own failures: a node-side problem
    comes back as :attr:`RemoteResult.error`."""
    started = time.monotonic()
    home = workdir / spec.repo_id
    bead = Bead.model_validate_json(spec.bead_json)
    run_dir = home / "runs" / bead.id / str(spec.attempt)
    try:
        with _claim_slot(home) as slot:
            pool = Pool(home / "clone.git", spec.setup, base=home / "worktrees")
            try:
                path = _prepare(home, pool, slot, spec, bundle)
            except MayorError as exc:
                return RemoteResult(node, None, "exited", spec.base, b"", error=str(exc))
            where = _Where(home, pool, slot, path, run_dir)
            try:
                return _attempt(spec, bead, where, emit, node, stop, time.monotonic() - started)
            except MayorError as exc:  # after the agent ended: the evidence could not be gathered
                return RemoteResult(node, None, "exited", spec.base, b"", error=str(exc))
            finally:
                with contextlib.suppress(MayorError):
                    pool.release(slot)
    except OSError as exc:
        return RemoteResult(node, None, "exited", spec.base, b"", error=f"the node's work folder {home}: {exc}")


@dataclass(frozen=True)
class _Where:
    """Where an attempt runs on the node."""

    home: Path
    pool: Pool
    slot: int
    path: Path
    run_dir: Path


def _attempt(
    spec: RemoteSpec,
    bead: Bead,
    where: _Where,
    emit: Emit,
    node: str,
    stop: Callable[[], StopReason | None],
    switch_s: float,
) -> RemoteResult:
    path, run_dir = where.path, where.run_dir
    env = _agent_env(spec, bead, where, node)
    if spec.merge_target:
        run(["git", "merge", "-q", "--no-edit", spec.base], path, check=False)
    agent = AgentProcess.start(spec.command, path, run_dir, env, {"slot": where.slot, "node": node})
    (where.home / "worktrees" / f"slot-{where.slot}.agent").write_text(str(run_dir))
    emit("agent_started", {"pid": agent.pid, "node": node, "switch_s": round(switch_s, 4)})
    events = _Forwarder(run_dir / "site" / ".mayor" / "events.jsonl", emit)

    def poll_stop() -> StopReason | None:  # asked on every poll of the agent: forward its events too
        events.forward()
        return stop()

    agent_s = time.monotonic()
    exit_ = agent.wait(spec.timeout, spec.idle_timeout, lambda: evidence.fingerprint(path), poll_stop)
    events.forward()
    emit("agent_exited", {"code": exit_.code, "reason": exit_.reason})
    where.pool.unlock(where.slot)
    result = RemoteResult(node, exit_.code, exit_.reason, spec.base, b"", detail=exit_.detail)
    result.timings["agent_s"] = time.monotonic() - agent_s
    _evidence(spec, bead, path, run_dir, env, emit, result)
    result.files = _files(run_dir)
    result.log_tail = evidence.tail(run_dir / "agent.log")
    return result


def _evidence(
    spec: RemoteSpec, bead: Bead, path: Path, run_dir: Path, env: dict[str, str], emit: Emit, result: RemoteResult
) -> None:
    """What a local judge gathers in the worktree, gathered here: the verdict stays the supervisor's."""
    if result.reason in ("interrupted", "cancelled", "budget", "stopped", "retry"):
        result.head = gitops.rev(f"refs/heads/{spec.branch}", path) or spec.base
    else:
        result.moved = evidence.back_on_branch(path, bead.id)
        if not bead.report_only and evidence.commit_leftovers(path, bead, spec.attempt):
            result.leftovers = True
            emit("committed_leftovers", {})
        result.head = git("rev-parse", "HEAD", cwd=path)
        result.markers = evidence.conflict_markers(path, spec.base)
        if result.code == 0 and result.reason == "exited" and not result.markers:
            result.checks = evidence.run_checks(bead, path, env, run_dir / "checks.log")
            for check in result.checks:
                emit("check_passed" if check.passed else "check_failed", {"check": check.command, "code": check.code})
    if gitops.commits_between(spec.base, result.head, path) > 0:  # a retry's old branch may lie behind base
        result.bundle = _bundle(path, [f"refs/heads/{spec.branch}", f"^{spec.base}"])


def _agent_env(spec: RemoteSpec, bead: Bead, where: _Where, node: str) -> dict[str, str]:
    """The supervisor's environment for the agent, its paths replaced by this node's. The built-in
    agent's rate limiter is the node's (one folder for every attempt of the repository here)."""
    run_dir, path = where.run_dir, where.path
    site = run_dir / "site"
    (site / ".mayor" / "state").mkdir(parents=True, exist_ok=True)
    (run_dir / "bead.json").write_text(bead.to_json())
    (run_dir / "prompt.md").write_text(spec.prompt)
    (run_dir / "feedback.md").write_text(spec.feedback)
    (site / ".mayor" / "state" / "context.md").write_text(spec.context or NO_CONTEXT)
    return {
        **spec.env,
        "MAYOR_BEAD_FILE": str(run_dir / "bead.json"),
        "MAYOR_PROMPT_FILE": str(run_dir / "prompt.md"),
        "MAYOR_FEEDBACK_FILE": str(run_dir / "feedback.md"),
        "MAYOR_RUN_DIR": str(run_dir),
        "MAYOR_ROOT": str(site),
        "MAYOR_WORKTREE": str(path),
        "MAYOR_CONTEXT_FILE": str(site / ".mayor" / "state" / "context.md"),
        "MAYOR_LIMITER_DIR": str(where.home / "limiter"),
        "MAYOR_PORT": str(where.pool.port(where.slot)),
        "MAYOR_NODE": node,
        "MAYOR_TARGET": spec.target,
    }


def _files(run_dir: Path) -> dict[str, bytes]:
    out = {name: (run_dir / name).read_bytes() for name in FILES if (run_dir / name).is_file()}
    log = run_dir / "agent.log"
    if log.is_file():
        with open(log, "rb") as handle:
            handle.seek(max(0, log.stat().st_size - LOG_CAP))
            out["agent.log"] = handle.read()
    return out


class _Forwarder:
    """Forwards the lines an agent appended to its node-local ``events.jsonl`` (``mayor emit``)."""

    def __init__(self, path: Path, emit: Emit) -> None:
        self.path, self.emit, self.offset = path, emit, 0

    def forward(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(whole)
        for line in whole.splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                event = json.loads(line)
                self.emit(str(event["type"]), dict(event.get("data") or {}))


# -- the node's clone and worktrees ----------------------------------------------------------------
@contextlib.contextmanager
def _locked(path: Path, blocking: bool = True) -> Iterator[IO[str] | None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # noqa: SIM115 (held for the block, closed in finally)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield handle
    finally:
        handle.close()


@contextlib.contextmanager
def _claim_slot(home: Path) -> Iterator[int]:
    """The first node worktree no running attempt holds, held until the block ends."""
    slot = 0
    while True:
        with _locked(home / "worktrees" / f"slot-{slot}.lock", blocking=False) as held:
            if held is not None:
                yield slot
                return
        slot += 1


def _forget_agent(home: Path, slot: int) -> None:
    """Kill what an earlier attempt in this worktree left running (its node process died under it)."""
    record = home / "worktrees" / f"slot-{slot}.agent"
    with contextlib.suppress(OSError):
        old = AgentProcess.adopt(Path(record.read_text().strip()))
        if old is not None and not old.gone:
            old.kill("stopped")
        record.unlink()


def _prepare(home: Path, pool: Pool, slot: int, spec: RemoteSpec, bundle: bytes) -> Path:
    """The clone holds the bundle's commits, ``branch`` and the target are set, and the slot's
    worktree is on ``branch``; under the clone's lock (git's admin files are shared)."""
    clone = home / "clone.git"
    with _locked(home / "clone.lock"):
        if not (clone / "HEAD").exists():
            git("init", "-q", "--bare", str(clone))
        tip = _fetch(clone, bundle, spec.branch)
        git("update-ref", f"refs/heads/{spec.target}", spec.base, cwd=clone)
        git("update-ref", f"refs/heads/{spec.branch}", tip or spec.base, cwd=clone)
        _forget_agent(home, slot)
        pool.unlock(slot)
        return pool.prepare(slot, Bead.model_validate_json(spec.bead_json).id, spec.base)


def _fetch(clone: Path, bundle: bytes, branch: str) -> str | None:
    """Fetch the bundle's objects; the branch's tip in it, if it holds the branch."""
    with tempfile.NamedTemporaryFile(suffix=".bundle", dir=clone) as handle:
        handle.write(bundle)
        handle.flush()
        heads = git("bundle", "list-heads", handle.name, cwd=clone).splitlines()
        git("fetch", "-q", "--no-tags", handle.name, f"+refs/*:{SHIP_REFS}/in/*", cwd=clone)
    tip = next((line.split()[0] for line in heads if line.endswith(f" refs/heads/{branch}")), None)
    shipped = git("for-each-ref", "--format=delete %(refname)", f"{SHIP_REFS}/", cwd=clone)
    run(["git", "update-ref", "--stdin"], clone, input=shipped + "\n")
    return tip
