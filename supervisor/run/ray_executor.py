"""Attempts on a Ray cluster: one named, detached actor per attempt.

:class:`RayExecutor` is the supervisor's end: ``submit`` a :class:`~supervisor.run.remote.RemoteSpec`
and its bundle, ``poll`` for the node's events, live usage and result, ``cancel``, and ``release``
once the result is safe on the supervisor's disk. The actor (:class:`AttemptActor`) runs
:func:`~supervisor.run.remote.run_remote_attempt` in a thread of its own, so the attempt goes on
whatever happens to the supervisor, and keeps the node's events and the result until released.

Why a detached actor, named ``mayor-<repo id>-<bead>-<n>`` in the namespace ``mayor``: a
supervisor killed with ``kill -9`` and started again finds each attempt by name (:meth:`find`),
running or finished, and collects it; nothing of the attempt depends on the driver that began it.
It reserves ``num_cpus`` (1 by default) on its node until released.

How it fails: a node lost mid-attempt kills its actor (``max_restarts=0``); :meth:`poll` then says
``lost`` and the supervisor makes the attempt ``interrupted`` and slings the bead again. Ray is
imported inside functions only: ``mayor --help`` stays fast, and without Ray installed
:class:`RayMissing` says what to install.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.errors import MayorError
from supervisor.run import remote
from supervisor.run.agentproc import StopReason
from supervisor.run.remote import RemoteResult, RemoteSpec

NAMESPACE = "mayor"
RESOURCE_KEYS = frozenset({"num_cpus", "num_gpus", "memory", "resources", "accelerator_type"})
NodeEvent = tuple[int, str, dict[str, Any]]
"""``(seq, type, data)``: ``seq`` counts the attempt's node events from 0, in the order they happened."""


class RayMissing(MayorError):
    """``--executor ray`` without Ray installed."""

    def __init__(self) -> None:
        super().__init__(
            "--executor ray needs Ray, which is not installed: pip install 'mayor[ray]' "
            "(the same Ray version as the cluster's nodes)"
        )


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayMissing() from None
    return ray


@dataclass
class Handle:
    """One attempt's actor, as the supervisor holds it."""

    name: str
    actor: Any
    seen: int = 0
    """Node events already taken: a restarted supervisor sets it from its event log (each forwarded
    event carries its ``seq``), so none is written twice."""


@dataclass
class Poll:
    """What one look at an attempt found."""

    events: list[NodeEvent] = field(default_factory=list)
    """New since the handle's ``seen``, in order."""
    usage: bytes | None = None
    """The agent's live ``usage.json`` (for the budget), if it writes one."""
    result: RemoteResult | None = None
    """Set once the attempt has ended on the node."""
    lost: str | None = None
    """The actor or its node is gone: the attempt is ``interrupted`` (not charged)."""


class AttemptActor:
    """One attempt on a node (made a Ray actor by :meth:`RayExecutor.submit`)."""

    def __init__(self, spec: RemoteSpec, bundle: bytes, workdir: str | None) -> None:
        ray = import_ray()
        self._lock = threading.Lock()
        self._events: list[NodeEvent] = []
        self._result: RemoteResult | None = None
        self._stop: StopReason | None = None
        self.node = ray.get_runtime_context().get_node_id()
        self.workdir = Path(workdir).expanduser() if workdir else default_workdir()
        self.run_dir = self.workdir / spec.repo_id / "runs" / _bead_id(spec) / str(spec.attempt)
        threading.Thread(target=self._run, args=(spec, bundle), name="attempt", daemon=True).start()

    def _run(self, spec: RemoteSpec, bundle: bytes) -> None:
        try:
            result = remote.run_remote_attempt(spec, bundle, self.workdir, self._emit, self.node, lambda: self._stop)
        except BaseException as exc:  # the thread's last word: never lose the attempt's end
            result = RemoteResult(self.node, None, "exited", spec.base, b"", error=f"the node failed: {exc!r}")
        with self._lock:
            self._result = result

    def _emit(self, type: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._events.append((len(self._events), type, data))

    def progress(self, since: int) -> tuple[list[NodeEvent], bytes | None, bool]:
        """Events from ``since`` on, the live usage, and whether the result is ready."""
        usage = None
        with contextlib.suppress(OSError):
            usage = (self.run_dir / "usage.json").read_bytes()
        with self._lock:
            return self._events[since:], usage, self._result is not None

    def result(self) -> RemoteResult | None:
        with self._lock:
            return self._result

    def stop(self, reason: StopReason) -> None:
        self._stop = self._stop or reason

    def where(self) -> str:
        return str(self.node)


def default_workdir() -> Path:
    """Where a node keeps its clones, worktrees and run folders, unless the supervisor names a folder."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "mayor" / "nodes"


def _bead_id(spec: RemoteSpec) -> str:
    return spec.branch.removeprefix("mayor/")


def actor_name(repo_id: str, bead_id: str, attempt: int) -> str:
    return f"mayor-{repo_id}-{bead_id}-{attempt}"


class RayExecutor:
    """Runs attempts on the Ray cluster at ``address`` (``None``: ``RAY_ADDRESS`` or a local one)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workdir: str | None = None,
        namespace: str = NAMESPACE,
        node_ip_address: str | None = None,
        spread: bool = True,
    ) -> None:
        self.address = address
        self.workdir = workdir
        """The nodes' work folder (``~`` is the node's home); None: :func:`default_workdir` on each node."""
        self.namespace = namespace
        self.node_ip_address = node_ip_address
        """This machine's address as Ray should see it (``127.0.0.1`` keeps a local cluster on loopback)."""
        self.spread = spread
        """Spread attempts over the nodes (Ray's ``SPREAD``) rather than fill one node first."""

    def connect(self) -> None:
        ray = import_ray()
        if ray.is_initialized():
            return
        _reachable(self.address)
        options: dict[str, Any] = {"_node_ip_address": self.node_ip_address} if self.node_ip_address else {}
        main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if main else None
        ray.init(
            address=self.address,
            namespace=self.namespace,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
            **options,
        )
        if main:  # ray.init makes SIGTERM exit at once; the caller's handler stops the run in order
            signal.signal(signal.SIGTERM, previous)

    def submit(self, spec: RemoteSpec, bundle: bytes, resources: Mapping[str, Any] | None = None) -> Handle:
        """Start the attempt on whichever node has the resources (``num_cpus`` 1 by default).

        Idempotent: when the attempt's actor exists already (a supervisor restarted between its
        submit and its bookkeeping), that one is returned and nothing new starts."""
        ray = import_ray()
        self.connect()
        name = actor_name(spec.repo_id, _bead_id(spec), spec.attempt)
        cls = ray.remote(AttemptActor).options(
            name=name,
            namespace=self.namespace,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=0,
            max_concurrency=4,
            scheduling_strategy="SPREAD" if self.spread else "DEFAULT",
            **ray_options(resources),
        )
        return Handle(name, cls.remote(spec, bundle, self.workdir))

    def find(self, repo_id: str, bead_id: str, attempt: int) -> Handle | None:
        """The attempt's actor after a supervisor restart, running or finished; None when gone."""
        return self.by_name(actor_name(repo_id, bead_id, attempt))

    def by_name(self, name: str) -> Handle | None:
        """The attempt's actor by its name (as :meth:`attempts` lists them); None when gone."""
        ray = import_ray()
        self.connect()
        try:
            return Handle(name, ray.get_actor(name, namespace=self.namespace))
        except ValueError:
            return None

    def attempts(self, repo_id: str) -> list[str]:
        """The names of this repository's attempts on the cluster (running, or finished and not released)."""
        ray = import_ray()
        self.connect()
        prefix = actor_name(repo_id, "", 0).removesuffix("-0")
        named = ray.util.list_named_actors(all_namespaces=True)
        return sorted(a["name"] for a in named if a["namespace"] == self.namespace and a["name"].startswith(prefix))

    def poll(self, handle: Handle, timeout: float = 30.0) -> Poll:
        """New events, live usage and, once ended, the result; ``lost`` when the node or actor is gone."""
        ray = import_ray()
        try:
            events, usage, done = ray.get(handle.actor.progress.remote(handle.seen), timeout=timeout)
            result = ray.get(handle.actor.result.remote(), timeout=timeout) if done else None
        except (ray.exceptions.GetTimeoutError, ray.exceptions.ActorUnavailableError):
            return Poll()  # slow, or unreachable for now: Ray says when the actor is dead (before its parent below)
        except (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as exc:
            return Poll(lost=_first_line(exc))
        handle.seen += len(events)
        return Poll(events, usage, result)

    def wait(self, handle: Handle, deadline_s: float, every: float = 0.5) -> Poll:
        """Poll until the attempt ends, is lost or ``deadline_s`` passes; the events gathered on the way."""
        gathered: list[NodeEvent] = []
        end = time.monotonic() + deadline_s
        while True:
            poll = self.poll(handle, timeout=max(0.1, min(30.0, end - time.monotonic())))
            gathered += poll.events
            if poll.result is not None or poll.lost or time.monotonic() >= end:
                return Poll(gathered, poll.usage, poll.result, poll.lost)
            time.sleep(every)

    def cancel(self, handle: Handle, reason: StopReason = "cancelled") -> None:
        """Ask the node to stop the agent (its whole process group); the result still comes back."""
        ray = import_ray()
        with contextlib.suppress(ray.exceptions.RayError):
            handle.actor.stop.remote(reason)

    def release(self, handle: Handle) -> None:
        """End the actor and free its resources: call once the result is on the supervisor's disk.

        Releasing a running attempt kills its actor but not its agent, which runs on until the next
        attempt that takes its node worktree stops it: :meth:`cancel` and wait for the result first."""
        ray = import_ray()
        with contextlib.suppress(ray.exceptions.RayError, ValueError):
            ray.kill(handle.actor, no_restart=True)

    def nodes(self) -> list[str]:
        """The ids of the cluster's live nodes."""
        ray = import_ray()
        self.connect()
        return [n["NodeID"] for n in ray.nodes() if n.get("Alive")]


def ray_options(resources: Mapping[str, Any] | None) -> dict[str, Any]:
    """The actor's Ray options from an agent's ``ray_resources`` (``num_cpus`` 1 unless given)."""
    given = dict(resources or {})
    unknown = sorted(set(given) - RESOURCE_KEYS)
    if unknown:
        raise MayorError(
            f"ray_resources: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(RESOURCE_KEYS))}"
        )
    return {"num_cpus": 1, **given}


def _reachable(address: str | None, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` head that nothing answers on is said at once (``ray.init`` retries for minutes)."""
    text = address or ""
    host, _, port = text.rpartition(":")
    if "://" in text or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise MayorError(f"--executor ray: nothing answers at {address} ({exc}); is the Ray head running?") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
