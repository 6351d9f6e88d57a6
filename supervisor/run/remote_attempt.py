"""One attempt on a Ray cluster (``--executor ray``), in the slot's thread: submit, watch, judge.

The slot's :class:`~supervisor.run.attempt.AttemptRunner` begins the attempt (status ``running``,
run folder, base) and builds the command line as for a local launch; then, instead of a worktree
and a local process::

    ray.json written -> ship (bundle) -> RayExecutor.submit -> poll every second: the node's events
    forwarded (``node_seq``), ``usage.json`` for the budget, stop reasons sent as ``cancel`` ->
    write_back (run folder) -> receive (branch) -> account -> judge_remote -> outcome -> release

The node has already done what a local judge does in the worktree (back on the branch, leftovers,
conflict markers, acceptance checks; their events are forwarded), so :func:`judge_remote` only
rules on that evidence. The actor is released only after the outcome is on the bead file: a
supervisor killed before that finds it again (:func:`supervisor.run.recovery.recover`) and
collects it once. A lost node or actor makes the attempt ``interrupted`` (not charged).

The agent's environment is the local one less mayor's git hooks (``GIT_CONFIG_*``): that folder
is on the supervisor's disk, and on the node the target is only the node clone's copy, which the
supervisor never takes back (it takes the bead's branch only).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beads.models import Bead
from supervisor.agents import Report
from supervisor.errors import CommandError, MayorError
from supervisor.events import EventType
from supervisor.run import outcomes
from supervisor.run.agentproc import AgentProcess, Exit, StopReason
from supervisor.run.beadstate import current
from supervisor.run.context import RunContext
from supervisor.run.hooks import agent_git_env
from supervisor.run.judge import checks_failed, rule
from supervisor.run.outcomes import Failure, last_counted
from supervisor.run.ray_executor import Handle, Poll, actor_name
from supervisor.run.remote import RemoteResult, receive, repo_id, ship, spec_from_run_dir, write_back
from supervisor.run.spend import account, stopped_by_run_budget
from supervisor.run.worktrees import branch_name

if TYPE_CHECKING:
    from supervisor.run.attempt import AttemptRunner

RECORD = "ray.json"
"""In the run folder: the attempt's actor name, its launch record and when it began (for recovery)."""
POLL_S = 1.0
GRACE_S = 120.0
"""Past the wall timeout plus this, the node is asked to stop the agent; past twice this, the attempt is lost."""


class RemoteAttempt:
    """One attempt of a slot on the cluster; :meth:`run` is the slot thread's whole work."""

    def __init__(self, runner: AttemptRunner) -> None:
        self.runner = runner
        self.ctx = runner.ctx

    def run(self, bead_id: str) -> None:
        ctx = self.ctx
        bead = ctx.store.get(bead_id)
        if bead.status == "running":  # only recovery hands over a running bead: its attempt is on the cluster
            found = self._resume(bead)
            if found is None:
                return
            handle, extra = found
        else:
            try:
                bead, handle, extra = self._submit(bead_id)
            except Failure as failure:
                n = current(ctx.store.get(bead_id)).n
                ctx.state.agent_ended(bead_id)
                outcomes.failed(ctx, bead_id, n, failure, ctx.repo.run_dir(bead_id, n))
                return
        poll = self._watch(bead, handle)
        self._end(bead, poll, extra)
        ctx.ray.release(handle)  # only now: the outcome is on the bead file

    def _submit(self, bead_id: str) -> tuple[Bead, Handle, dict[str, Any]]:
        ctx, runner = self.ctx, self.runner
        bead, run_dir, tip = runner.begin(bead_id)
        n, root = current(bead).n, ctx.repo.root
        line = runner.command_line(bead, run_dir, ctx.pool.path(runner.slot))
        hooks = agent_git_env(ctx.hooks)  # a folder of the supervisor's disk: see the module's docstring
        env = {k: v for k, v in line.env.items() if k not in hooks}
        spec = spec_from_run_dir(
            root, run_dir, line.command, env, ctx.opts.target, ctx.opts.timeout, ctx.opts.idle_timeout
        )
        last = last_counted(bead, before=n)  # after a conflict the node merges the target in first, as locally
        spec = replace(spec, setup=ctx.repo.config.setup, merge_target=last is not None and last.outcome == "conflict")
        name = actor_name(spec.repo_id, bead_id, n)
        record = {"actor": name, "extra": line.extra, "started": time.time()}
        _write(run_dir / RECORD, json.dumps(record).encode())  # before submit: a restart then looks for it
        ctx.events.emit(
            EventType.SLUNG,
            bead_id,
            n,
            slot=runner.slot,
            worktree="",
            agent=line.agent,
            model=line.model,
            executor="ray",
        )
        ctx.state.agent_running(bead_id, run_dir)
        _name, config, _adapter = ctx.agent(bead)
        try:
            bundle = ship(root, tip, branch_name(bead_id))
            handle = ctx.ray.submit(spec, bundle, config.ray_resources)
        except (CommandError, MayorError) as exc:
            raise Failure("setup_failed", f"the attempt could not be sent to the cluster: {exc}") from None
        return bead, handle, line.extra

    def _resume(self, bead: Bead) -> tuple[Handle, dict[str, Any]] | None:
        """The attempt a killed supervisor left on the cluster, its node events already logged skipped."""
        ctx, n = self.ctx, current(bead).n
        run_dir = ctx.repo.run_dir(bead.id, n)
        record = json.loads((run_dir / RECORD).read_text())
        handle = ctx.ray.find(repo_id(ctx.repo.root), bead.id, n)
        if handle is None:
            outcomes.interrupted(ctx, bead.id)
            return None
        handle.seen = node_seen(ctx, bead.id, n)
        ctx.state.attempt_began(self.runner.slot, float(record.get("started", 0.0)))
        ctx.state.agent_running(bead.id, run_dir)
        ctx.events.emit(EventType.AGENT_ADOPTED, bead.id, n, slot=self.runner.slot, actor=handle.name)
        return handle, dict(record.get("extra") or {})

    def _watch(self, bead: Bead, handle: Handle) -> Poll:
        """Poll until the node sends the result or the attempt is lost; stop reasons become ``cancel``."""
        ctx, n = self.ctx, current(bead).n
        run_dir = ctx.repo.run_dir(bead.id, n)
        deadline = time.monotonic() + ctx.opts.timeout + GRACE_S
        asked: StopReason | None = None
        while True:
            poll = ctx.ray.poll(handle)
            for seq, type_, data in poll.events:
                ctx.events.emit_any(type_, bead.id, n, **data, node_seq=seq)
            if poll.usage is not None:
                _write(run_dir / "usage.json", poll.usage)
            if poll.result is not None or poll.lost:
                return poll
            late = time.monotonic() - deadline
            if late > GRACE_S:
                return Poll(lost=f"no result {ctx.opts.timeout + 2 * GRACE_S:.0f}s after the attempt began")
            reason = self.runner.stop(bead.id) or ("timeout" if late > 0 else None)
            if reason is not None and asked is None:
                ctx.ray.cancel(handle, reason)
                asked = reason
            if asked is None:
                ctx.state.stopping.wait(POLL_S)  # Ctrl-C is passed on at once
            else:
                time.sleep(POLL_S)

    def _end(self, bead: Bead, poll: Poll, extra: dict[str, Any]) -> None:
        ctx, n = self.ctx, current(bead).n
        run_dir = ctx.repo.run_dir(bead.id, n)
        result = poll.result
        if result is None:
            ctx.events.emit(EventType.AGENT_EXITED, bead.id, n, code=None, reason="lost", detail=poll.lost)
            ctx.state.agent_ended(bead.id)
            outcomes.interrupted(ctx, bead.id)
            return
        write_back(run_dir, result)
        books = AgentProcess(0, run_dir, None, time.time(), extra)  # what account() reads: run folder and record
        report = account(ctx, bead, books)
        try:
            if result.error:
                raise Failure("setup_failed", f"the attempt could not run on node {result.node}: {result.error}")
            receive(ctx.repo.root, result, branch_name(bead.id))
            reason = result.reason
            if reason not in ("interrupted", "budget") and stopped_by_run_budget(ctx, books, report):
                reason = "budget"
            if not outcomes.stopped(ctx, bead.id, n, reason):
                judge_remote(ctx, bead, result, report)
                outcomes.passed(ctx, bead.id, n, report)
        except Failure as failure:
            outcomes.failed(ctx, bead.id, n, failure, run_dir)
        except CommandError as exc:  # the branch could not be taken in
            why = f"the node's branch could not be fetched: {str(exc)[:400]}"
            outcomes.failed(ctx, bead.id, n, Failure("failed", why), run_dir)


def judge_remote(ctx: RunContext, bead: Bead, result: RemoteResult, report: Report) -> None:
    """:func:`~supervisor.run.judge.judge` on the node's evidence: the same failures, in the same order.

    The branch check, leftovers and checks ran on the node (their events are forwarded already);
    the target guard has nothing to restore (the node's target is its clone's copy)."""
    exit_ = Exit(result.code, result.reason, result.detail)
    rule(ctx, bead, exit_, report, result.log_tail, [result.moved], lambda: result.markers)
    checks_failed(result.checks)


def node_seen(ctx: RunContext, bead_id: str, n: int) -> int:
    """How many of the attempt's node events ``events.jsonl`` holds already (by their ``node_seq``)."""
    seqs = [
        e["data"]["node_seq"]
        for e in ctx.events.read()
        if e["bead"] == bead_id and e["attempt"] == n and isinstance(e["data"].get("node_seq"), int)
    ]
    return max(seqs) + 1 if seqs else 0


def is_remote(run_dir: Path) -> bool:
    """The attempt of this run folder was sent to a Ray cluster (local adoption does not apply)."""
    return (run_dir / RECORD).exists()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
