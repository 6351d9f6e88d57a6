"""``mayor sling``: keep up to X beads running, judge their work, land it through the queue.

Threads: the main thread schedules (it sleeps until something happens); one thread per busy slot
drives a bead's attempt (worktree, agent, evidence); one merge thread lands beads one at a time;
on a terminal or a pipe, the live view follows the event log in a thread of its own.
All state is on disk (bead files, run folders, the merge journal), so a supervisor killed at any
moment is resumed by the next ``mayor sling``.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from beads import graph
from beads.models import Attempt, Bead, BeadSummary, Outcome, Result, now
from supervisor import gitops
from supervisor.agents import (
    Adapter,
    LaunchContext,
    Report,
    adapter_for,
    check_runnable,
    resolve_agent,
)
from supervisor.agents.context import write_context
from supervisor.config import AgentConfig
from supervisor.errors import MayorError
from supervisor.events import EventLog, EventType
from supervisor.output import say
from supervisor.pricing import usd
from supervisor.prompts import bead_fields, render
from supervisor.repo import Repo
from supervisor.run import evidence
from supervisor.run.agentproc import AgentProcess, Exit, StopReason
from supervisor.run.beadstate import begin_attempt, current, end_attempt, modify
from supervisor.run.budget import Budget
from supervisor.run.lock import supervisor_lock
from supervisor.run.merge_queue import BranchGone, Landing, MergeQueue
from supervisor.run.target_guard import TargetGuard
from supervisor.run.worktrees import Pool, branch_name

LOOK_S = 2.0
"""How often an idle scheduler looks whether another process wrote a bead (a stat, nothing more)."""
BLOCKED_RETRY_S = 5.0
BLOCKED_RETRIES = 6
"""Landings blocked by the user's checkout are retried this often, then left queued for the next run."""


@dataclass
class Options:
    slots: int
    target: str
    gate: str | None
    agent: str | None
    only: list[str] = field(default_factory=list)
    label: str | None = None
    max_attempts: int = 3
    timeout: float = 1800.0
    idle_timeout: float = 600.0
    dry_run: bool = False
    merge: str = "merge"
    model: str | None = None
    max_steps: int | None = None
    budget_usd: float | None = None
    budget_tokens: int | None = None


class Failure(Exception):
    """An attempt that did not pass: its outcome word and what the next attempt should know."""

    def __init__(self, outcome: Outcome, error: str, feedback: str = "") -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error
        self.feedback = feedback or error


class Supervisor:
    def __init__(self, repo: Repo, options: Options) -> None:
        self.repo = repo
        self.opts = options
        self.root = repo.root
        self.store = repo.store
        self.events = EventLog(repo.events_path)
        self.state_dir = repo.mayor_dir / "state"
        self.pool = Pool(self.root, repo.config.setup, repo.config.copy_files)
        self.queue = MergeQueue(
            self.root, options.target, options.gate, self.state_dir, strategy=options.merge, guard=self._guard_target
        )
        self.guard = TargetGuard(self.root, options.target, self.queue.landed, self.events)
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.busy: dict[int, str] = {}
        self.threads: dict[int, threading.Thread] = {}
        self.merge_q: queue.Queue[str | None] = queue.Queue()
        self.in_queue: set[str] = set()
        self.touched: set[str] = set()
        self.stopping = threading.Event()
        self.fatal: BaseException | None = None
        self.budget = Budget(options.budget_usd, options.budget_tokens)
        self.budget_stop: str | None = None
        """Why the budget stopped the run, once it has."""
        self.running_dirs: dict[str, Path] = {}
        """Run folders of the attempts in progress (their live usage counts against the budget)."""
        self.blocked_tries: dict[str, int] = {}
        self.unlanded: dict[str, str] = {}
        """Beads left queued because their landing stayed blocked, with the reason."""
        self.slot_started: dict[int, float] = {}
        """When each slot's current attempt began (the target guard reads agents' reflogs from then)."""
        self.clean_slots: set[int] = set()
        """Slots whose worktree holds no uncommitted change (leftovers were committed)."""

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with supervisor_lock(self.repo.mayor_dir):
            beads = self.store.load()
            graph.validate(beads)
            self._preflight(beads)
            if self.opts.dry_run:
                return self._dry_run(beads)
            self.events.emit(EventType.SLING_STARTED, slots=self.opts.slots, target=self.opts.target, pid=os.getpid())
            write_context(self.root, self.opts.target, self.opts.gate, self.state_dir)
            merger = threading.Thread(target=self._merge_worker, name="merge-queue", daemon=True)
            merger.start()
            try:
                with _sigterm_as_interrupt():
                    self._recover()
                    self._loop()
            except KeyboardInterrupt:
                self._shutdown(merger)
                self.events.emit(EventType.SLING_STOPPED, reason="interrupted")
                say("mayor: interrupted; running agents were stopped. `mayor sling` resumes.")
                return 130
            except BaseException:
                self._shutdown(merger)
                self.events.emit(EventType.SLING_STOPPED, reason="error")
                raise
            self.merge_q.put(None)
            merger.join()
            self.events.emit(EventType.SLING_STOPPED, reason="done")
            return self._verdict()

    def _preflight(self, beads: dict[str, Bead]) -> None:
        gitops.ensure_branch_exists(self.opts.target, self.root)
        checkout = gitops.checked_out_at(self.opts.target, self.root)
        if checkout is not None:
            changed = gitops.dirty(checkout)
            if changed:
                raise MayorError(
                    f"{self.opts.target} is checked out at {checkout} with uncommitted changes to tracked files "
                    f"({', '.join(line[3:] for line in changed[:5])}); commit or stash them first, so that landing "
                    "work there cannot touch them"
                )
        unknown = [i for i in self.opts.only if i not in beads]
        if unknown:
            raise MayorError(f"--only names unknown bead(s) {', '.join(unknown)}; see `mayor list`")
        for bead in self._wanted(beads):
            self._agent(bead)

    def _dry_run(self, beads: dict[str, Bead]) -> int:
        ready = [b for b in graph.ready(beads) if self._matches(b)]
        say(
            f"would sling {min(len(ready), self.opts.slots)} of {len(ready)} ready bead(s) "
            f"with {self.opts.slots} slot(s) onto {self.opts.target}:"
        )
        for index, bead in enumerate(ready):
            print(f"{'now ' if index < self.opts.slots else 'next'}\t{bead.id}\t{self._agent_name(bead)}\t{bead.title}")
        return 0

    # -- choosing beads --------------------------------------------------------------------
    def _matches(self, bead: Bead | BeadSummary) -> bool:
        if self.opts.only and bead.id not in self.opts.only:
            return False
        return self.opts.label is None or self.opts.label in bead.labels

    def _wanted(self, beads: dict[str, Bead]) -> list[Bead]:
        return [b for b in beads.values() if self._matches(b) and b.status in ("open", "running", "queued")]

    def _agent_name(self, bead: Bead) -> str:
        return self.opts.agent or bead.agent or self.repo.config.agent

    def _agent(self, bead: Bead) -> tuple[str, AgentConfig, Adapter]:
        """The agent's name, config and adapter; checked at start so a missing one stops nothing midway."""
        name = self._agent_name(bead)
        config = resolve_agent(self.repo.config, name)
        adapter = adapter_for(config.kind)
        check_runnable(name, config)
        return name, config, adapter

    # -- the scheduling loop ---------------------------------------------------------------
    def _loop(self) -> None:
        seen = None
        while True:
            if self.fatal is not None:
                raise self.fatal
            seen = self._beads_changed_at()
            beads = self.store.summaries()  # cached: a wake does not parse every whole bead
            if not self.stopping.is_set():
                self._fill(beads)
            with self.lock:
                idle = not self.busy and not self.in_queue
            if idle:
                return
            while not self.wake.wait(timeout=LOOK_S) and self._beads_changed_at() == seen:
                pass  # asleep: no event, no bead written by another process (mayor approve, add)
            self.wake.clear()

    def _beads_changed_at(self) -> int:
        try:
            return self.store.dir.stat().st_mtime_ns
        except OSError:
            return 0

    def _fill(self, beads: Mapping[str, BeadSummary]) -> None:
        for bead in beads.values():  # approved by `mayor approve` while we run
            if (
                bead.status == "queued"
                and bead.id not in self.in_queue
                and bead.id not in self.unlanded
                and self._matches(bead)
            ):
                self._enqueue(bead.id)
        if self._check_budget():
            return
        with self.lock:
            free = [s for s in range(self.opts.slots) if s not in self.busy]
            taken = set(self.busy.values()) | self.in_queue
        if not free:
            return
        for bead in graph.ready(beads):
            if not free:
                break
            if bead.id in taken or not self._matches(bead):
                continue
            self._start_slot(free.pop(0), bead.id, adopt=None)

    def _start_slot(self, slot: int, bead_id: str, adopt: AgentProcess | None) -> None:
        with self.lock:
            self.busy[slot] = bead_id
            self.touched.add(bead_id)
        thread = threading.Thread(target=self._slot_main, args=(slot, bead_id, adopt), name=f"slot-{slot}", daemon=True)
        self.threads[slot] = thread
        thread.start()

    def _slot_main(self, slot: int, bead_id: str, adopt: AgentProcess | None) -> None:
        try:
            self._attempt(slot, bead_id, adopt)
        except BaseException as exc:
            self.fatal = exc
        finally:
            with self.lock:
                self.busy.pop(slot, None)
            self.wake.set()

    # -- one attempt -----------------------------------------------------------------------
    def _attempt(self, slot: int, bead_id: str, adopt: AgentProcess | None) -> None:
        if adopt is None:
            try:
                bead, agent, path = self._launch(slot, bead_id)
            except Failure as failure:
                n = current(self.store.get(bead_id)).n
                self._failed(bead_id, n, failure, self.repo.run_dir(bead_id, n))
                return
        else:
            bead, agent, path = self.store.get(bead_id), adopt, self.pool.path(slot)
            self.slot_started[slot] = agent.started - 2.0  # from the agent's record (a little early is safe)
            self.events.emit(EventType.AGENT_ADOPTED, bead_id, current(bead).n, pid=adopt.pid, slot=slot)
        n = current(bead).n
        exit_ = agent.wait(
            self.opts.timeout,
            self.opts.idle_timeout,
            lambda: evidence.fingerprint(path),
            lambda: self._stop_reason(bead_id),
        )
        self.events.emit(EventType.AGENT_EXITED, bead_id, n, code=exit_.code, reason=exit_.reason)
        self.pool.unlock(slot)  # its process group is gone: a git lock it left would stop everything after
        report = self._account(bead, agent)
        try:
            if exit_.reason in ("interrupted", "budget"):
                self._interrupted(bead_id)
                return
            if exit_.reason == "cancelled":
                self.events.emit(EventType.CANCELLED, bead_id, n)
                modify(self.store, bead_id, lambda b: end_attempt(b, "cancelled", "cancelled by the user"))
                return
            self._judge(bead, path, agent.run_dir, exit_, slot, report)
            self._passed(bead_id, n, report)
        except Failure as failure:
            self._failed(bead_id, n, failure, agent.run_dir)
        finally:
            self.pool.release(slot)

    def _launch(self, slot: int, bead_id: str) -> tuple[Bead, AgentProcess, Path]:
        bead = modify(self.store, bead_id, lambda b: begin_attempt(b, self._agent_name(b)))
        n = current(bead).n
        run_dir = self.repo.run_dir(bead_id, n)
        run_dir.mkdir(parents=True, exist_ok=True)
        gitops.ensure_branch_exists(self.opts.target, self.root)
        tip = self.guard.good_tip(self._busy_worktrees()) or ""  # never branch from an agent's ungated commits
        (run_dir / "base").write_text(tip)
        self.slot_started[slot] = time.time()
        switch_start = time.monotonic()
        path = self._prepare(slot, bead_id, tip, run_dir)
        switch_s = round(time.monotonic() - switch_start, 4)
        self._bring_up_to_date(bead, path, tip)
        env = self._agent_env(bead, n, slot, run_dir, path)
        name, config, adapter = self._agent(bead)
        ctx = LaunchContext(
            bead, name, config, run_dir, path, self.opts.model or bead.model or config.model, self.opts.max_steps
        )
        launch = adapter.launch(ctx)
        env.update(launch.env)
        remaining = self.budget.remaining_usd()
        if remaining is not None:  # an agent may not spend past what is left of the run's budget
            cap = min(remaining, float(env.get("MAYOR_MAX_USD", remaining)))
            env["MAYOR_MAX_USD"] = f"{cap:.4f}"
        self.events.emit(EventType.SLUNG, bead_id, n, slot=slot, worktree=str(path), agent=name, model=ctx.model)
        self.running_dirs[bead_id] = run_dir
        agent = AgentProcess.start(launch.command, path, run_dir, env, {"slot": slot, "model": ctx.model})
        self.events.emit(EventType.AGENT_STARTED, bead_id, n, pid=agent.pid, slot=slot, switch_s=switch_s)
        return bead, agent, path

    def _prepare(self, slot: int, bead_id: str, tip: str, run_dir: Path) -> Path:
        """The slot's worktree on the bead's branch; a failure (a setup that fails, a branch checked
        out by someone) ends this attempt with the reason, not the whole run."""
        try:
            self.pool.unlock(slot)  # a supervisor killed mid-checkout leaves git's locks behind
            return self.pool.prepare(slot, bead_id, tip, known_clean=slot in self.clean_slots)
        except MayorError as exc:
            raise Failure("setup_failed", f"the worktree could not be prepared: {exc}") from None
        finally:
            self.clean_slots.discard(slot)

    def _bring_up_to_date(self, bead: Bead, path: Path, tip: str) -> None:
        """On a retry after a conflict, merge the target in so the agent resolves it where it works."""
        last = _last_counted(bead, before=current(bead).n)
        if last is None or last.outcome != "conflict":
            return
        from supervisor.proc import run

        run(["git", "merge", "-q", "--no-edit", tip], path, check=False)

    def _agent_env(self, bead: Bead, n: int, slot: int, run_dir: Path, path: Path) -> dict[str, str]:
        (run_dir / "bead.json").write_text(bead.to_json())
        fields = {**bead_fields(bead), "target": self.opts.target, "attempt": n}
        template = "report" if bead.report_only else "execute"
        (run_dir / "prompt.md").write_text(render(template, fields, self.repo.mayor_dir))
        feedback = run_dir / "feedback.md"
        last = _last_counted(bead, before=n)
        previous = self.repo.run_dir(bead.id, last.n) / "feedback_out.md" if last else None
        feedback.write_text(previous.read_text() if previous and previous.exists() else "")
        return {
            "MAYOR_BEAD_ID": bead.id,
            "MAYOR_BEAD_FILE": str(run_dir / "bead.json"),
            "MAYOR_PROMPT_FILE": str(run_dir / "prompt.md"),
            "MAYOR_RUN_DIR": str(run_dir),
            "MAYOR_ATTEMPT": str(n),
            "MAYOR_FEEDBACK_FILE": str(feedback),
            "MAYOR_TARGET": self.opts.target,
            "MAYOR_PORT": str(self.pool.port(slot)),
            "MAYOR_SLOT": str(slot),
            "MAYOR_ROOT": str(self.root),
            "MAYOR_WORKTREE": str(path),
            "MAYOR_CONTEXT_FILE": str(self.state_dir / "context.md"),
            "MAYOR_LIMITER_DIR": str(self.state_dir / "limiter"),
        }

    def _stop_reason(self, bead_id: str) -> StopReason | None:
        if self.stopping.is_set():
            return "interrupted"
        if self._check_budget():
            return "budget"
        try:
            status = self.store.get(bead_id).status
        except MayorError:
            return None
        return "cancelled" if status == "cancelled" else None

    def _judge(self, bead: Bead, path: Path, run_dir: Path, exit_: Exit, slot: int, report: Report) -> None:
        n = current(bead).n
        moved = evidence.back_on_branch(path, bead.id)  # first: the agent's commits onto its branch
        restored = self.guard.restore(path, self.slot_started.get(slot, 0.0), bead.id)
        if not bead.report_only and evidence.commit_leftovers(path, bead, n):
            self.events.emit(EventType.COMMITTED_LEFTOVERS, bead.id, n)
        log_tail = evidence.tail(run_dir / "agent.log")
        if exit_.reason == "timeout" or exit_.reason == "idle":
            limit = self.opts.timeout if exit_.reason == "timeout" else self.opts.idle_timeout
            what = "ran past its wall timeout" if exit_.reason == "timeout" else "was idle (no output, no file change)"
            raise Failure(
                exit_.reason,
                f"the agent {what} of {limit:.0f}s and was killed",
                f"Your last attempt {what} of {limit:.0f}s and was killed. Its output ended:\n{log_tail}",
            )
        if exit_.code != 0 or report.error:
            said = f": {report.error}" if report.error else ""
            raise Failure(
                "failed",
                f"the agent exited {exit_.code if exit_.code is not None else exit_.reason}{said}",
                f"Your last attempt exited with status {exit_.code} ({exit_.reason}){said}. "
                f"Its output ended:\n{log_tail}",
            )
        report.problems += [p for p in (moved, restored) if p]
        markers = evidence.conflict_markers(path, self.opts.target)
        if markers:
            raise Failure(
                "conflict",
                f"conflict markers remain in {', '.join(markers)}",
                f"Conflict markers (<<<<<<< / >>>>>>>) remain in: {', '.join(markers)}. "
                "Resolve them, keeping both sides' intent, and commit.",
            )
        if not bead.report_only and not self._has_work(branch_name(bead.id), run_dir):
            raise Failure(
                "no_change",
                "the agent made no commit and left no change",
                "Your last attempt made no change at all. Do the work and commit it.",
            )
        self._run_checks(bead, path, run_dir, slot)
        if not gitops.dirty(path, untracked=True):  # the checks wrote nothing: the next bead may skip the clean
            self.clean_slots.add(slot)

    def _has_work(self, branch: str, run_dir: Path) -> bool:
        """The branch holds commits the target lacks, or this attempt made commits (that another
        bead's landing already carried onto the target: the queue then records it as landed)."""
        tip = gitops.ensure_branch_exists(self.opts.target, self.root)
        if gitops.commits_between(tip, branch, self.root) > 0:
            return True
        base = (run_dir / "base").read_text().strip() if (run_dir / "base").exists() else tip
        return gitops.commits_between(base, branch, self.root) > 0

    def _busy_worktrees(self) -> list[tuple[Path, float, str]]:
        """Each running attempt's worktree, when it started, and its bead."""
        with self.lock:
            busy = sorted(self.busy.items())
        return [
            (self.pool.path(s), self.slot_started.get(s, 0.0), b)
            for s, b in busy
            if (self.pool.path(s) / ".git").exists()
        ]

    def _guard_target(self) -> None:
        """Called by the queue before it builds on the target: undo what running agents put there."""
        self.guard.good_tip(self._busy_worktrees())

    def _run_checks(self, bead: Bead, path: Path, run_dir: Path, slot: int) -> None:
        n = current(bead).n
        env = self._agent_env(bead, n, slot, run_dir, path)
        results = evidence.run_checks(bead, path, env, run_dir / "checks.log")
        failed = [r for r in results if not r.passed]
        for r in results:
            self.events.emit(
                EventType.CHECK_PASSED if r.passed else EventType.CHECK_FAILED, bead.id, n, check=r.command, code=r.code
            )
        if failed:
            lines = [
                f"Acceptance check failed: `{r.command}` ({r.text}) exited {r.code}:\n{r.output[-2000:]}"
                for r in failed
            ]
            raise Failure(
                "check_failed", f"{len(failed)} acceptance check(s) failed: {failed[0].command}", "\n\n".join(lines)
            )

    # -- outcomes --------------------------------------------------------------------------
    def _passed(self, bead_id: str, n: int, result: Report) -> None:
        def change(b: Bead) -> None:
            attempt = current(b)
            attempt.outcome, attempt.ended_at = "passed", now()
            attempt.commit = gitops.rev(f"refs/heads/{branch_name(b.id)}", self.root)
            b.result = b.result or Result()
            b.result.summary = result.summary or b.result.summary
            b.result.findings = result.findings
            if b.report_only:
                b.status, b.closed_at = "done", now()
            elif b.approval == "human":
                b.status = "review"
            else:
                b.status = "queued"

        bead = modify(self.store, bead_id, change)
        if bead.status == "done":
            self.events.emit(EventType.DONE, bead_id, n, findings=len(result.findings))
        elif bead.status == "queued":
            self._enqueue(bead_id)
        else:
            self.events.emit(EventType.AWAITING_APPROVAL, bead_id, n)

    def _enqueue(self, bead_id: str) -> None:
        with self.lock:
            if bead_id in self.in_queue:
                return
            self.in_queue.add(bead_id)
            self.touched.add(bead_id)
        self.events.emit(EventType.QUEUED, bead_id, None)
        self.merge_q.put(bead_id)

    def _failed(self, bead_id: str, n: int, failure: Failure, run_dir: Path) -> None:
        (run_dir / "feedback_out.md").write_text(failure.feedback)
        bead = modify(
            self.store, bead_id, lambda b: end_attempt(b, failure.outcome, failure.error, self.opts.max_attempts)
        )
        if bead.status == "failed":
            self.events.emit(EventType.FAILED, bead_id, n, outcome=failure.outcome, error=failure.error)
        else:
            self.events.emit(EventType.RETRIED, bead_id, n, outcome=failure.outcome, error=failure.error)

    def _interrupted(self, bead_id: str) -> None:
        why = f"stopped by the budget: {self.budget_stop}" if self.budget_stop else "the supervisor was stopped"
        modify(self.store, bead_id, lambda b: end_attempt(b, "interrupted", why))

    # -- spend -------------------------------------------------------------------------------
    def _account(self, bead: Bead, agent: AgentProcess) -> Report:
        """Read the agent's report and book its usage on the bead and the run, whatever the outcome."""
        self.running_dirs.pop(bead.id, None)
        _name, config, adapter = self._agent(bead)
        report = adapter.report(agent.run_dir, agent.extra.get("model") or config.model)
        usage = report.usage
        if usage is not None:
            if usage.cost_usd is None and self.budget.usd is not None and not self.budget.unpriced:
                say(
                    f"mayor: warning: {bead.id}'s model has no known price: its tokens count against "
                    "--budget-tokens but not against --budget-usd"
                )
            self.budget.add(usage)
            self.events.emit(
                EventType.USAGE,
                bead.id,
                current(bead).n if bead.attempts else None,
                tokens=usage.total_tokens,
                cost_usd=usage.cost_usd,
            )

            def book(b: Bead) -> None:
                if b.attempts:
                    current(b).usage = usage
                b.usage = b.usage + usage

            modify(self.store, bead.id, book)
        self._check_budget()
        return report

    def _check_budget(self) -> bool:
        """True once the budget is spent; the first time, stop slinging and say so."""
        if self.budget_stop is None:
            reason = self.budget.exceeded(list(self.running_dirs.values()))
            if reason is None:
                return False
            self.budget_stop = reason
            self.events.emit(EventType.BUDGET_STOPPED, None, None, reason=reason, running=sorted(self.running_dirs))
            say(
                f"mayor: {reason}: no new bead is slung; the {len(self.running_dirs)} running agent(s) are stopped "
                "and their beads stay open for the next run"
            )
            self.wake.set()
        return True

    # -- the merge thread ------------------------------------------------------------------
    def _merge_worker(self) -> None:
        while True:
            bead_id = self.merge_q.get()
            if bead_id is None:
                return
            try:
                self._land(bead_id)
            except BaseException as exc:
                self.fatal = exc
                with self.lock:
                    self.in_queue.discard(bead_id)
            self.wake.set()

    def _land(self, bead_id: str) -> None:
        bead = self.store.get(bead_id)
        if bead.status != "queued" or self.stopping.is_set():  # after Ctrl-C it waits, queued, for the next run
            with self.lock:
                self.in_queue.discard(bead_id)
            return
        n = current(bead).n if bead.attempts else None
        run_dir = self.repo.run_dir(bead_id, n or 0)
        try:
            landing = self.queue.land(bead, run_dir)
        except BranchGone as gone:
            reason = str(gone)
            modify(self.store, bead_id, lambda b: end_attempt(b, "failed", reason, max_attempts=0))
            self.events.emit(EventType.FAILED, bead_id, n, error=reason)
            with self.lock:
                self.in_queue.discard(bead_id)
            return
        if landing.outcome == "blocked":
            self._blocked_landing(bead_id, n, landing.detail)
            return
        self._record_landing(bead, n, landing, run_dir)
        with self.lock:
            self.in_queue.discard(bead_id)

    def _blocked_landing(self, bead_id: str, n: int | None, detail: str) -> None:
        """Retry a landing the user's checkout blocks a few times; then leave it queued for the next run."""
        self.events.emit(EventType.LANDING_BLOCKED, bead_id, n, detail=detail)
        tries = self.blocked_tries[bead_id] = self.blocked_tries.get(bead_id, 0) + 1
        if self.stopping.is_set() or tries > BLOCKED_RETRIES:
            self.unlanded[bead_id] = detail
            with self.lock:
                self.in_queue.discard(bead_id)
            return
        say(f"mayor: {detail} (try {tries} of {BLOCKED_RETRIES}; again in {BLOCKED_RETRY_S:.0f}s)")
        threading.Timer(BLOCKED_RETRY_S, self.merge_q.put, args=(bead_id,)).start()

    def _record_landing(self, bead: Bead, n: int | None, landing: Landing, run_dir: Path) -> None:
        if self.opts.gate and landing.outcome != "conflict":
            kind = EventType.GATE_PASSED if landing.outcome == "merged" else EventType.GATE_FAILED
            self.events.emit(kind, bead.id, n, flaky=landing.flaky)
            if landing.flaky:
                self.events.emit(EventType.GATE_FLAKY, bead.id, n)
        if landing.outcome == "merged":
            assert landing.commit is not None
            self._merged(bead, n, landing.commit)
            return
        if landing.outcome == "conflict":
            self.events.emit(EventType.CONFLICT, bead.id, n, files=landing.files)
            feedback = (
                f"Your branch conflicts with {self.opts.target} in: {', '.join(landing.files)}.\n"
                f"The target was merged into your branch; resolve the conflict markers, keep both "
                f"sides' intent, and commit.\n\n{landing.detail}"
            )
            failure = Failure(
                "conflict", f"merge conflict with {self.opts.target} in {', '.join(landing.files)}", feedback
            )
        else:
            failure = Failure(
                "gate_failed",
                f"the gate failed on the merge with {self.opts.target}",
                f"After merging your branch onto {self.opts.target}, the gate failed.\n{landing.detail}",
            )
        self._failed(bead.id, n or 0, failure, run_dir)

    def _merged(self, bead: Bead, n: int | None, commit: str) -> None:
        files = gitops.files_changed(f"{commit}^1", commit, self.root) if gitops.rev(f"{commit}^2", self.root) else []

        def change(b: Bead) -> None:
            b.status, b.closed_at, b.error = "merged", now(), None
            b.result = b.result or Result()
            b.result.commit, b.result.files = commit, files

        modify(self.store, bead.id, change)
        self.events.emit(EventType.MERGED, bead.id, n, commit=commit, files=files)

    # -- recovery and shutdown -------------------------------------------------------------
    def _recover(self) -> None:
        finished = self.queue.recover()
        if finished:
            bead_id, commit = finished
            bead = self.store.get(bead_id)
            if bead.status == "queued":
                self._merged(bead, current(bead).n, commit)
                self.events.emit(EventType.RECOVERED, bead_id, None, what="completed a landing")
        beads = self.store.load()
        for bead in sorted(beads.values(), key=lambda b: b.updated_at):
            if bead.status == "running":
                self._recover_running(bead)
            elif bead.status == "queued" and self._matches(bead):
                self._enqueue(bead.id)

    def _recover_running(self, bead: Bead) -> None:
        run_dir = self.repo.run_dir(bead.id, current(bead).n)
        agent = AgentProcess.adopt(run_dir)
        slot = agent.extra.get("slot") if agent else None
        if agent is None or not isinstance(slot, int) or slot in self.busy or not self._matches(bead):
            if agent is not None and not agent.gone:
                agent.kill("interrupted")  # not ours to finish in this run: never let it write into a reused slot
            self._interrupted(bead.id)
            self.events.emit(EventType.RECOVERED, bead.id, current(bead).n, what="restarting an attempt cut short")
            return
        self.events.emit(EventType.RECOVERED, bead.id, current(bead).n, what="found its agent again", pid=agent.pid)
        self._start_slot(slot, bead.id, adopt=agent)

    def _shutdown(self, merger: threading.Thread) -> None:
        self.stopping.set()
        for thread in list(self.threads.values()):
            thread.join()
        self.merge_q.put(None)
        merger.join()

    def _verdict(self) -> int:
        beads = self.store.load()
        taken = [beads[i] for i in sorted(self.touched) if i in beads]
        taken += [b for b in beads.values() if self._matches(b) and b.status == "open" and b.id not in self.touched]
        failed = [b for b in taken if b.status == "failed"]
        waiting = [b for b in taken if b.status in ("open", "review", "queued")]
        for bead_id, detail in self.unlanded.items():
            say(f"not landed: {bead_id}: {detail}; it stays queued: `mayor sling` again lands it")
        for bead in taken:
            if bead.status == "review":
                say(
                    f"waiting for approval: {bead.id} {bead.title}: `mayor approve {bead.id}` or "
                    f"`mayor reject {bead.id} --reason ...`"
                )
        for bead in failed:
            say(f"failed: {bead.id} {bead.title}: {bead.error}")
        blocked = dict((b.id, holds) for b, holds in graph.blocked(beads))
        for bead in [b for b in waiting if b.status == "open"]:
            reason = "; ".join(h.describe() for h in blocked.get(bead.id, [])) or f"status {bead.status}"
            say(f"not landed: {bead.id} {bead.title}: {reason}")
        landed = sum(1 for b in taken if b.landed)
        spent = self.budget.total()
        cost = usd(spent.cost_usd or 0.0) + (" + unpriced usage" if self.budget.unpriced else "")
        say(
            f"mayor: {landed} landed, {len(failed)} failed, {len(waiting)} not landed; "
            f"{spent.total_tokens} tokens, {cost}"
        )
        if self.budget_stop:
            say(f"mayor: the budget stopped this run ({self.budget_stop})")
            return 1
        return 1 if failed or waiting else 0


def _last_counted(bead: Bead, before: int) -> Attempt | None:
    """The latest attempt before number ``before`` that was not interrupted (its feedback counts)."""
    return next((a for a in reversed(bead.attempts) if a.n < before and a.outcome != "interrupted"), None)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, ``kill``) stops a run the way Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
