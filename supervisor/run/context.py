"""What every part of a run shares: its options, the repository's parts and the one ``RunState``.

``Options`` is what ``mayor sling`` was asked (flags over ``.mayor/config.toml``); ``RunContext``
holds the parts built once per run and handed to the scheduler, the attempt runner, the lander
and recovery. Nothing here changes after the run starts, except through ``state``.
"""

from __future__ import annotations

import importlib.util
import os
import queue
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from beads.models import Bead, BeadSummary
from beads.store import Store
from supervisor.agents import Adapter, adapter_for, check_runnable, resolve_agent
from supervisor.config import AgentConfig, Config, parse_duration
from supervisor.errors import MayorError, UsageError
from supervisor.events import EventLog, EventType
from supervisor.repo import Repo
from supervisor.run.budget import Budget
from supervisor.run.gates import GatePool
from supervisor.run.groups import GroupRecords
from supervisor.run.hooks import user_hooks_dir, write_hooks
from supervisor.run.merge_queue import MergeQueue
from supervisor.run.state import RunState
from supervisor.run.target_guard import TargetGuard
from supervisor.run.target_watch import TargetWatch
from supervisor.run.worktrees import Pool, pool_dir

if TYPE_CHECKING:
    from supervisor.run.ray_executor import RayExecutor


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
    gate_timeout: float = 1800.0
    gate_retries: int = 1
    queue: str = "auto"
    """``auto`` or ``serial``: how the merge queue shapes its candidates (:mod:`supervisor.run.queue_policy`)."""
    max_parallel_gates: int = 2
    max_batch: int = 8
    executor: str = "local"
    """``local`` or ``ray``: where attempts run (:mod:`supervisor.run.remote_attempt`)."""
    ray_address: str | None = None

    @classmethod
    def of(
        cls,
        config: Config,
        *,
        jobs: int | None = None,
        target: str | None = None,
        gate: str | None = None,
        max_attempts: int | None = None,
        timeout: str | None = None,
        idle_timeout: str | None = None,
        budget_usd: float | None = None,
        budget_tokens: int | None = None,
        agent: str | None = None,
        only: list[str] | None = None,
        label: str | None = None,
        dry_run: bool = False,
        model: str | None = None,
        max_steps: int | None = None,
        executor: str | None = None,
        ray_address: str | None = None,
        queue: str | None = None,
    ) -> Options:
        """Options from flags (None: not given) over the repository's config."""
        chosen = executor or config.executor
        if chosen not in ("local", "ray"):
            raise UsageError(f"--executor {chosen}: choose local or ray")
        if chosen == "ray" and importlib.util.find_spec("ray") is None:
            from supervisor.run.ray_executor import RayMissing

            raise RayMissing()
        return cls(
            slots=jobs or config.slots,
            target=target or config.target,
            gate=gate if gate is not None else config.gate,
            max_attempts=max_attempts or config.max_attempts,
            timeout=parse_duration(timeout or config.timeout),
            idle_timeout=parse_duration(idle_timeout or config.idle_timeout),
            merge=config.merge,
            budget_usd=budget_usd if budget_usd is not None else config.budget.usd,
            budget_tokens=budget_tokens if budget_tokens is not None else config.budget.tokens,
            gate_timeout=parse_duration(config.gate_timeout),
            gate_retries=config.gate_retries,
            queue=queue or config.queue,
            max_parallel_gates=config.max_parallel_gates,
            max_batch=config.max_batch,
            agent=agent,
            only=list(only or []),
            label=label,
            dry_run=dry_run,
            model=model,
            max_steps=max_steps,
            executor=chosen,
            ray_address=ray_address or config.ray_address,
        )

    def matches(self, bead: Bead | BeadSummary) -> bool:
        """The bead is one this run was asked to take (``--only``, ``--label``)."""
        if self.only and bead.id not in self.only:
            return False
        return self.label is None or self.label in bead.labels


@dataclass
class RunContext:
    repo: Repo
    opts: Options
    state: RunState = field(default_factory=RunState)
    merge_q: queue.Queue[str | None] = field(default_factory=queue.Queue)
    """Bead ids for the merge thread; None ends it."""

    @property
    def store(self) -> Store:
        return self.repo.store

    @cached_property
    def events(self) -> EventLog:
        return EventLog(self.repo.events_path)

    @cached_property
    def pool(self) -> Pool:
        config = self.repo.config
        base = pool_dir(self.repo.root, config.worktrees)
        notify = lambda path: self.events.emit(EventType.SETUP_STARTED, worktree=str(path))  # noqa: E731
        return Pool(self.repo.root, config.setup, config.copy_files, base, notify)

    @cached_property
    def budget(self) -> Budget:
        return Budget(self.opts.budget_usd, self.opts.budget_tokens)

    @cached_property
    def queue(self) -> MergeQueue:
        state = self.repo.mayor_dir / "state"
        capacity = 1 if self.opts.queue == "serial" else self.opts.max_parallel_gates
        gates = GatePool(
            self.repo.root,
            self.opts.target,
            self.opts.gate,
            self.pool.base,
            capacity,
            GroupRecords(state / "groups"),
            timeout=self.opts.gate_timeout,
            retries=self.opts.gate_retries,
            make=self.pool.make,
            notify=lambda run: self.events.emit(
                EventType.GATE_STARTED,
                run.beads[0] if run.beads else None,
                None,
                candidate=run.commit,
                log=str(run.log),
                beads=run.beads,
            ),
        )
        return MergeQueue(self.repo.root, self.opts.target, state, gates, strategy=self.opts.merge)

    @cached_property
    def watch(self) -> TargetWatch:
        """Used by the merge thread, then by the main thread once the merge thread has ended."""
        return TargetWatch(self.repo.root, self.opts.target, self.events)

    @cached_property
    def hooks(self) -> Path:
        """The git hooks every git command of an agent runs (see :mod:`supervisor.run.hooks`)."""
        folder = self.repo.mayor_dir / "state" / "agent-hooks"
        return write_hooks(folder, self.opts.target, user_hooks_dir(self.repo.root))

    @cached_property
    def guard(self) -> TargetGuard:
        return TargetGuard(self.repo.root, self.opts.target, self.queue.landed, self.events)

    def guard_target(self) -> None:
        """Undo what running agents put on the target (before the queue builds on it, before a launch)."""
        self.good_tip()

    def good_tip(self) -> str | None:
        busy = [(self.pool.path(b.slot), b.started, b.bead_id) for b in self.state.busy_slots()]
        return self.guard.good_tip([w for w in busy if (w[0] / ".git").exists()])

    @cached_property
    def ray(self) -> RayExecutor:
        """``--executor ray``: the cluster, connected once per run (first touched by the main thread,
        in recovery). A head on loopback keeps this driver on loopback too."""
        from supervisor.run.ray_executor import RayExecutor

        address = self.opts.ray_address
        host = (address or os.environ.get("RAY_ADDRESS") or "127.0.0.1").removeprefix("ray://").rsplit(":", 1)[0]
        loopback = host == "localhost" or host.startswith("127.")
        executor = RayExecutor(address, node_ip_address="127.0.0.1" if loopback else None)
        try:
            executor.connect()
        except MayorError:
            raise
        except Exception as exc:  # Ray's own errors have no common base: say where, and what Ray said
            where = address or "RAY_ADDRESS or a local Ray"
            raise MayorError(f"--executor ray: cannot connect to the Ray cluster at {where}: {exc}") from exc
        return executor

    # -- agents ------------------------------------------------------------------------------
    def agent_name(self, bead: Bead) -> str:
        return self.opts.agent or bead.agent or self.repo.config.agent

    def agent(self, bead: Bead) -> tuple[str, AgentConfig, Adapter]:
        """The agent's name, config and adapter; checked at start so a missing one stops nothing midway."""
        name = self.agent_name(bead)
        config = resolve_agent(self.repo.config, name)
        adapter = adapter_for(config.kind)
        check_runnable(name, config)
        return name, config, adapter
