"""Judging an attempt on evidence, never on the agent's word: its exit, its commits, the checks.

:func:`judge` raises :class:`~supervisor.run.outcomes.Failure` with the outcome and the feedback
for the next attempt, or returns when the work may go to the queue. Order: back on the bead's
branch, the target restored, leftovers committed; then timeout/idle, a failed exit, conflict
markers, no change, and the acceptance checks run by the supervisor.

A remote attempt (:mod:`supervisor.run.remote_attempt`) gathers that evidence on its node and is
judged by the same public parts: :func:`rule` (up to the checks) and :func:`checks_failed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from beads.models import Bead
from supervisor import gitops
from supervisor.agents import Report
from supervisor.events import EventType
from supervisor.run import evidence
from supervisor.run.agentproc import Exit
from supervisor.run.beadstate import current
from supervisor.run.context import RunContext
from supervisor.run.outcomes import Failure
from supervisor.run.worktrees import branch_name


def judge(ctx: RunContext, bead: Bead, path: Path, exit_: Exit, slot: int, report: Report, env: dict[str, str]) -> None:
    """Raise :class:`Failure` unless the attempt's work may go on; ``env`` is the agent's, for the checks."""
    n = current(bead).n
    run_dir = Path(env["MAYOR_RUN_DIR"])
    moved = evidence.back_on_branch(path, bead.id)  # first: the agent's commits onto its branch
    started = next((b.started for b in ctx.state.busy_slots() if b.slot == slot), 0.0)
    restored = ctx.guard.restore(path, started, bead.id)
    if not bead.report_only and evidence.commit_leftovers(path, bead, n):
        ctx.events.emit(EventType.COMMITTED_LEFTOVERS, bead.id, n)
    markers = partial(evidence.conflict_markers, path, ctx.opts.target)
    rule(ctx, bead, exit_, report, evidence.tail(run_dir / "agent.log"), [moved, restored], markers)
    run_checks(ctx, bead, path, run_dir, env)
    if not gitops.dirty(path, untracked=True):  # the checks wrote nothing: the next bead may skip the clean
        ctx.state.mark_clean(slot)


def rule(
    ctx: RunContext,
    bead: Bead,
    exit_: Exit,
    report: Report,
    log_tail: str,
    problems: Sequence[str | None],
    markers: Callable[[], Sequence[str]],
) -> None:
    """The verdict on the evidence up to the acceptance checks, wherever it was gathered (here, or on
    a Ray node): a timeout or idle agent, a failed exit, conflict markers left, no work at all.

    ``problems`` (what the agent got wrong and was put right: left its branch, moved the target)
    go on the report. ``markers`` names the files whose changes hold conflict markers (asked only
    once the exit passed: locally it runs ``git diff``)."""
    exit_failures(ctx, exit_, report, log_tail)
    report.problems += [p for p in problems if p]
    found = list(markers())
    if found:
        raise Failure(
            "conflict",
            f"conflict markers remain in {', '.join(found)}",
            f"Conflict markers (<<<<<<< / >>>>>>>) remain in: {', '.join(found)}. "
            "Resolve them, keeping both sides' intent, and commit.",
        )
    if not bead.report_only and not has_work(ctx, branch_name(bead.id), ctx.repo.run_dir(bead.id, current(bead).n)):
        raise Failure(
            "no_change",
            "the agent made no commit and left no change",
            "Your last attempt made no change at all. Do the work and commit it.",
        )


def exit_failures(ctx: RunContext, exit_: Exit, report: Report, log_tail: str) -> None:
    """A :class:`Failure` for an agent killed by its wall or idle timeout, or that exited non-zero or said it failed."""
    if exit_.reason == "timeout" or exit_.reason == "idle":
        limit = ctx.opts.timeout if exit_.reason == "timeout" else ctx.opts.idle_timeout
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
            f"Your last attempt exited with status {exit_.code} ({exit_.reason}){said}. Its output ended:\n{log_tail}",
        )


def has_work(ctx: RunContext, branch: str, run_dir: Path) -> bool:
    """The branch holds commits the target lacks, or this attempt made commits (that another
    bead's landing already carried onto the target: the queue then records it as landed)."""
    root = ctx.repo.root
    tip = gitops.ensure_branch_exists(ctx.opts.target, root)
    if gitops.commits_between(tip, branch, root) > 0:
        return True
    base = (run_dir / "base").read_text().strip() if (run_dir / "base").exists() else tip
    return gitops.commits_between(base, branch, root) > 0


def run_checks(ctx: RunContext, bead: Bead, path: Path, run_dir: Path, env: dict[str, str]) -> None:
    """The bead's acceptance checks, run by the supervisor in the worktree, with the agent's environment."""
    n = current(bead).n
    results = evidence.run_checks(bead, path, env, run_dir / "checks.log")
    for r in results:
        kind = EventType.CHECK_PASSED if r.passed else EventType.CHECK_FAILED
        ctx.events.emit(kind, bead.id, n, check=r.command, code=r.code)
    checks_failed(results)


def checks_failed(results: Sequence[evidence.CheckResult]) -> None:
    """A :class:`Failure` naming every acceptance check that failed (with its output's end), if one did."""
    failed = [r for r in results if not r.passed]
    if failed:
        lines = [
            f"Acceptance check failed: `{r.command}` ({r.text}) exited {r.code}:\n{r.output[-2000:]}" for r in failed
        ]
        raise Failure(
            "check_failed", f"{len(failed)} acceptance check(s) failed: {failed[0].command}", "\n\n".join(lines)
        )
