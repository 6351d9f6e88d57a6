"""One attempt in one slot, in the slot's own thread: from a bead to a judged branch.

begin (status ``running``, attempt n) -> the slot's worktree on ``mayor/<id>`` -> the agent
launched (or adopted after a restart) -> wait (timeouts, cancel, budget, Ctrl-C) -> spend booked
-> judged on evidence -> ``passed`` (queued, done or awaiting review) or a :class:`Failure`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from beads.models import Bead
from supervisor import gitops
from supervisor.agents import LaunchContext
from supervisor.errors import CommandError, MayorError
from supervisor.events import EventType
from supervisor.output import say
from supervisor.prompts import bead_fields, render
from supervisor.run import evidence, outcomes
from supervisor.run.agentproc import AgentProcess, StopReason
from supervisor.run.beadstate import begin_attempt, current, modify
from supervisor.run.checkout_watch import CheckoutState, record, state_of, touched
from supervisor.run.context import RunContext
from supervisor.run.control import retry_requested, take_note
from supervisor.run.hooks import agent_git_env
from supervisor.run.judge import judge
from supervisor.run.outcomes import Failure, last_counted
from supervisor.run.remote_attempt import RemoteAttempt
from supervisor.run.spend import account, check_budget, stopped_by_run_budget


@dataclass(frozen=True)
class CommandLine:
    """What starts an agent, wherever it runs."""

    agent: str
    model: str | None
    command: str
    env: dict[str, str]
    extra: dict[str, object]
    """Kept in ``agent.json`` (slot, model, the run's budget cap)."""


class AttemptRunner:
    """Runs the attempts of one slot; :meth:`run` is the slot thread's whole work. With
    ``--executor ray`` it hands the attempt to :class:`~supervisor.run.remote_attempt.RemoteAttempt`."""

    def __init__(self, ctx: RunContext, slot: int) -> None:
        self.ctx = ctx
        self.slot = slot
        self.before: CheckoutState | None = None
        """The user's checkout just before this slot's agent started."""

    def run(self, bead_id: str, adopt: AgentProcess | None) -> None:
        ctx = self.ctx
        if ctx.opts.executor == "ray":
            RemoteAttempt(self).run(bead_id)
            return
        if adopt is None:
            try:
                bead, agent, path = self._launch(bead_id)
            except Failure as failure:
                n = current(ctx.store.get(bead_id)).n
                outcomes.failed(ctx, bead_id, n, failure, ctx.repo.run_dir(bead_id, n))
                return
        else:
            bead, agent, path = ctx.store.get(bead_id), adopt, ctx.pool.path(self.slot)
            ctx.state.attempt_began(self.slot, agent.started - 2.0)  # from its record (a little early is safe)
            ctx.events.emit(EventType.AGENT_ADOPTED, bead_id, current(bead).n, pid=adopt.pid, slot=self.slot)
        self._finish(bead, agent, path)

    def _finish(self, bead: Bead, agent: AgentProcess, path: Path) -> None:
        ctx, n = self.ctx, current(bead).n
        exit_ = agent.wait(
            ctx.opts.timeout, ctx.opts.idle_timeout, lambda: evidence.fingerprint(path), lambda: self.stop(bead.id)
        )
        if self.before is not None:  # not for an agent adopted after a restart: its start was not seen
            self._watch_checkout(bead.id, n, self.before)
        ctx.events.emit(EventType.AGENT_EXITED, bead.id, n, code=exit_.code, reason=exit_.reason)
        ctx.pool.evict(self.slot)  # a daemon the agent left (setsid) must not write into the next bead
        report = account(ctx, bead, agent)
        try:
            ctx.pool.unlock(self.slot)  # its process group is gone: a git lock it left would stop everything after
            reason = exit_.reason
            if reason not in ("interrupted", "budget") and stopped_by_run_budget(ctx, agent, report):
                reason = "budget"
            if not outcomes.stopped(ctx, bead.id, n, reason):
                judge(ctx, bead, path, exit_, self.slot, report, self._env(bead, n, agent.run_dir, path))
                outcomes.passed(ctx, bead.id, n, report)
        except Failure as failure:
            outcomes.failed(ctx, bead.id, n, failure, agent.run_dir)
        except CommandError as exc:  # the agent broke its worktree (its .git deleted or corrupted)
            ctx.pool.discard(self.slot)
            why = f"the agent left its worktree broken, so its work cannot be read: {str(exc)[:400]}"
            outcomes.failed(ctx, bead.id, n, Failure("failed", why), agent.run_dir)
        finally:
            ctx.pool.release(self.slot)

    def _watch_checkout(self, bead_id: str, n: int, before: CheckoutState) -> None:
        """Name what changed in the user's checkout while this agent ran (with the beads running then)."""
        ctx = self.ctx
        with ctx.queue.checkout_lock:
            after, tip = state_of(ctx.repo.root), gitops.rev(f"refs/heads/{ctx.opts.target}", ctx.repo.root)
        changed = touched(before, after, tip)
        if not changed:
            return
        beads = sorted({bead_id, *(b.bead_id for b in ctx.state.busy_slots())})
        record(ctx.repo.mayor_dir / "state", beads, [c for c in changed if not c.startswith("HEAD ")])
        ctx.events.emit(EventType.CHECKOUT_TOUCHED, bead_id, n, files=changed, running=beads)
        say(
            f"mayor: your checkout changed while {bead_id} ran ({', '.join(changed[:5])}); agents running then: "
            f"{', '.join(beads)}. mayor leaves it as it is: look at it with `git status`"
        )

    def _launch(self, bead_id: str) -> tuple[Bead, AgentProcess, Path]:
        ctx = self.ctx
        bead, run_dir, tip = self.begin(bead_id)
        n = current(bead).n
        switch_start = time.monotonic()
        path = self._prepare(bead_id, tip)
        switch_s = round(time.monotonic() - switch_start, 4)
        self._bring_up_to_date(bead, path, tip)
        line = self.command_line(bead, run_dir, path)
        ctx.events.emit(
            EventType.SLUNG, bead_id, n, slot=self.slot, worktree=str(path), agent=line.agent, model=line.model
        )
        ctx.state.agent_running(bead_id, run_dir)
        with ctx.queue.checkout_lock:
            self.before = state_of(ctx.repo.root)
        agent = AgentProcess.start(line.command, path, run_dir, line.env, line.extra)
        ctx.events.emit(EventType.AGENT_STARTED, bead_id, n, pid=agent.pid, slot=self.slot, switch_s=switch_s)
        return bead, agent, path

    def begin(self, bead_id: str) -> tuple[Bead, Path, str]:
        """A new attempt: the bead ``running``, its run folder, and the base (the target's good tip) written."""
        ctx = self.ctx
        bead = modify(ctx.store, bead_id, lambda b: begin_attempt(b, ctx.agent_name(b)))
        run_dir = ctx.repo.run_dir(bead_id, current(bead).n)
        run_dir.mkdir(parents=True, exist_ok=True)
        gitops.ensure_branch_exists(ctx.opts.target, ctx.repo.root)
        tip = ctx.good_tip() or ""  # never branch from an agent's ungated commits
        (run_dir / "base").write_text(tip)
        ctx.state.attempt_began(self.slot, time.time())
        return bead, run_dir, tip

    def command_line(self, bead: Bead, run_dir: Path, path: Path) -> CommandLine:
        """The adapter's command line and the agent's environment (the run's budget cap included)."""
        ctx = self.ctx
        env = self._env(bead, current(bead).n, run_dir, path)
        name, config, adapter = ctx.agent(bead)
        model = ctx.opts.model or bead.model or config.model
        launch = adapter.launch(LaunchContext(bead, name, config, run_dir, path, model, ctx.opts.max_steps))
        env.update(launch.env)
        extra: dict[str, object] = {"slot": self.slot, "model": model}
        remaining = ctx.budget.remaining_usd()
        if remaining is not None:  # an agent may not spend past what is left of the run's budget
            own = float(env["MAYOR_MAX_USD"]) if env.get("MAYOR_MAX_USD") else None
            env["MAYOR_MAX_USD"] = f"{remaining if own is None else min(remaining, own):.6f}"
            if own is None or remaining < own:  # reaching this cap is the run's budget running out
                extra["run_budget_cap_usd"] = remaining
        return CommandLine(name, model, launch.command, env, extra)

    def _prepare(self, bead_id: str, tip: str) -> Path:
        """The slot's worktree on the bead's branch; a failure (a setup that fails, a branch checked
        out by someone) ends this attempt with the reason, not the whole run."""
        known_clean = self.ctx.state.take_clean(self.slot)
        try:
            self.ctx.pool.unlock(self.slot)  # a supervisor killed mid-checkout leaves git's locks behind
            return self.ctx.pool.prepare(self.slot, bead_id, tip, known_clean=known_clean)
        except MayorError as exc:
            raise Failure("setup_failed", f"the worktree could not be prepared: {exc}") from None

    def _bring_up_to_date(self, bead: Bead, path: Path, tip: str) -> None:
        """On a retry after a conflict, merge the target in so the agent resolves it where it works."""
        last = last_counted(bead, before=current(bead).n)
        if last is None or last.outcome != "conflict":
            return
        from supervisor.proc import run

        run(["git", "merge", "-q", "--no-edit", tip], path, check=False)

    def _env(self, bead: Bead, n: int, run_dir: Path, path: Path) -> dict[str, str]:
        """The agent's environment; writes the bead, the prompt and the last feedback into its run folder."""
        ctx = self.ctx
        (run_dir / "bead.json").write_text(bead.to_json())
        fields = {**bead_fields(bead), "target": ctx.opts.target, "attempt": n}
        template = "report" if bead.report_only else "execute"
        (run_dir / "prompt.md").write_text(render(template, fields, ctx.repo.mayor_dir))
        feedback = run_dir / "feedback.md"
        last = last_counted(bead, before=n)
        if not feedback.exists():  # written once, at launch (the checks later get the same environment)
            previous = ctx.repo.run_dir(bead.id, last.n) / "feedback_out.md" if last else None
            text = previous.read_text() if previous and previous.exists() else ""
            note = take_note(ctx.repo, bead.id)
            if note:
                text = f"A note from the person running mayor:\n{note}\n{text}"
            feedback.write_text(text)
        state_dir = ctx.repo.mayor_dir / "state"
        return {
            "MAYOR_BEAD_ID": bead.id,
            "MAYOR_BEAD_FILE": str(run_dir / "bead.json"),
            "MAYOR_PROMPT_FILE": str(run_dir / "prompt.md"),
            "MAYOR_RUN_DIR": str(run_dir),
            "MAYOR_ATTEMPT": str(n),
            "MAYOR_FEEDBACK_FILE": str(feedback),
            "MAYOR_TARGET": ctx.opts.target,
            "MAYOR_PORT": str(ctx.pool.port(self.slot)),
            "MAYOR_SLOT": str(self.slot),
            "MAYOR_ROOT": str(ctx.repo.root),
            "MAYOR_WORKTREE": str(path),
            "MAYOR_CONTEXT_FILE": str(state_dir / "context.md"),
            "MAYOR_LIMITER_DIR": str(state_dir / "limiter"),
            "MAYOR_NODE": "local",
            **agent_git_env(ctx.hooks),
        }

    def stop(self, bead_id: str) -> StopReason | None:
        """Why the running agent must stop now, if it must (a predicate apart from tripping the budget once)."""
        ctx = self.ctx
        if ctx.state.stopping.is_set():
            return "interrupted"
        if check_budget(ctx):
            return "budget"
        if retry_requested(ctx.repo, bead_id):
            return "retry"
        try:
            status = ctx.store.get(bead_id).status
        except MayorError:
            return None
        return "cancelled" if status == "cancelled" else None
