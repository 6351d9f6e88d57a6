"""One real local Ray cluster for the whole test session: a head with no CPUs and two workers.

Every address stays on loopback: ``node_ip_address="127.0.0.1"`` on each node and on the driver,
and ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` in the environment the nodes inherit (Ray would swap
127.0.0.1 for the machine's outward address otherwise). The nodes' git has the tests' pinned
identity and no access to the developer's config; their ``HOME`` is a folder of the session.

Starting a cluster takes 10-20 s on a busy machine, so ``tests/conftest.py`` starts one per
session and groups the tests that use it on one xdist worker (``xdist_group("ray")`` with
``--dist loadgroup``): one cluster for the whole suite. Between tests :func:`tidy` puts it back
as it began (no attempt left on it, two workers), so a test may kill a worker node.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tools import absent

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
WORKERS = 2
LOOPBACK_ENV = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
"""Without it a driver (or node) swaps a head's 127.0.0.1 for the machine's outward address."""
RUN_S = 300.0
"""A hung run fails its test; Ray starts a worker process per attempt, which is slow on a busy machine."""


def node_env(home: Path) -> dict[str, str]:
    """What the nodes' processes (and the agents they start) see."""
    return {
        LOOPBACK_ENV[0]: LOOPBACK_ENV[1],
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **{
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "Mayor Test"), ("EMAIL", "test@mayor.invalid"))
        },
    }


@dataclass
class LocalCluster:
    """The session's cluster (``cluster.address``, ``cluster.worker_nodes``) and its nodes' home."""

    cluster: Any
    home: Path

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """The nodes' environment, for as long as processes of a node are being started."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in node_env(self.home).items():
                patch.setenv(name, value)
            yield

    def add_worker(self, **node_args: Any) -> Any:
        """Another worker node on loopback (one CPU unless ``num_cpus`` is given); the Ray ``Node``."""
        with self.environment():
            node = self.cluster.add_node(**{"num_cpus": 1, **node_args, "node_ip_address": LOOPBACK})
        self.cluster.wait_for_nodes()
        return node


def require_ray() -> None:
    """Skip (fail under ``CI=true``) without Ray. Never imports it: Ray reads its environment on import."""
    if importlib.util.find_spec("ray") is None:
        absent("ray is not installed: pip install -e '.[ray]'")


@contextlib.contextmanager
def local_cluster(home: Path) -> Iterator[LocalCluster]:
    """A head with no CPUs and :data:`WORKERS` one-CPU workers on 127.0.0.1; this process a driver."""
    require_ray()
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    made = LocalCluster(None, home)
    with made.environment():
        from ray._private import ray_constants
        from ray.cluster_utils import Cluster

        ray_constants.ENABLE_RAY_CLUSTER = False  # as the variable says, should ray have been imported before
        head = {"num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False}
        made.cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for _ in range(WORKERS):
            made.add_worker()
        from supervisor.run.ray_executor import RayExecutor

        RayExecutor(made.cluster.address, node_ip_address=LOOPBACK).connect()  # for tidy() and the executor tests
        yield made
    finally:
        import ray

        ray.shutdown()
        made.cluster.shutdown()


def tidy(made: LocalCluster) -> None:
    """After a test: stop and release every attempt it left on the cluster, and bring the workers
    back to :data:`WORKERS` (a test may have killed one, or added one)."""
    import ray

    from supervisor.run.ray_executor import NAMESPACE, RayExecutor

    executor = RayExecutor(made.cluster.address, node_ip_address=LOOPBACK)
    for named in ray.util.list_named_actors(all_namespaces=True):
        handle = executor.by_name(named["name"]) if named["namespace"] == NAMESPACE else None
        if handle is not None:
            executor.cancel(handle, "stopped")
            executor.wait(handle, 15)
            executor.release(handle)
    alive = set(executor.nodes())
    dead = [n for n in made.cluster.worker_nodes if n.node_id not in alive]
    extra = [n for n in made.cluster.worker_nodes if n not in dead][WORKERS:]
    for node in dead + extra:
        made.cluster.remove_node(node, allow_graceful=False)
    while len(made.cluster.worker_nodes) < WORKERS:
        made.add_worker()


def workers(cluster: Any) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}


def node_of(cluster: Any, node_id: str) -> Any:
    """The worker ``Node`` whose Ray id is ``node_id``."""
    return next(node for node in cluster.worker_nodes if node.node_id == node_id)


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (an agent in its own session), if it still runs."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def zombie_or_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True
