"""The executor on a real local Ray cluster: a head with no CPUs and two worker nodes, all on 127.0.0.1.

The cluster is the session's (``cluster`` in tests/conftest.py, tests/ray_helpers.py), this
process one of its drivers. Skipped without Ray (failed under ``CI=true``: CI installs the
``ray`` extra).
"""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor.run import remote
from supervisor.run.ray_executor import Handle, Poll, RayExecutor
from tests.ray_helpers import LOOPBACK, ROOT, LocalCluster, kill_group, workers, zombie_or_gone
from tests.test_ray_remote import WRITE_AND_COMMIT, git, make_spec


@pytest.fixture
def executor(cluster: Any, tmp_path: Path) -> RayExecutor:
    return RayExecutor(cluster.address, workdir=str(tmp_path / "nodes"), node_ip_address=LOOPBACK)


def until_started(executor: RayExecutor, handle: Handle, deadline: float = 60.0) -> tuple[dict[str, Any], Poll]:
    """Poll until the agent started on its node; the ``agent_started`` data."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        poll = executor.poll(handle)
        started = [data for _, type, data in poll.events if type == "agent_started"]
        if started:
            return started[0], poll
        assert poll.result is None and poll.lost is None, poll
        time.sleep(0.2)
    raise AssertionError("the agent never started")


def test_attempts_land_through_both_workers_outside_the_repository(
    executor: RayExecutor, cluster: Any, git_repo: Path
) -> None:
    specs = [
        make_spec(git_repo, "sleep 1; " + WRITE_AND_COMMIT, bead_id=f"mr-a{i}", checks=["test -f node.txt"])
        for i in range(2)
    ]
    handles = [executor.submit(spec, remote.ship(git_repo, spec.base, spec.branch)) for spec in specs]
    polls = [executor.wait(handle, 90) for handle in handles]
    nodes = set()
    for spec, handle, poll in zip(specs, handles, polls, strict=True):
        result = poll.result
        assert result is not None and (result.error, result.code) == ("", 0), poll
        assert [type for _, type, _ in poll.events] == ["agent_started", "agent_exited", "check_passed"]
        assert [seq for seq, _, _ in poll.events] == [0, 1, 2]
        remote.receive(git_repo, result, spec.branch)
        assert git(git_repo, "show", f"{spec.branch}:node.txt") == result.node  # MAYOR_NODE is the Ray node id
        assert git_repo not in Path(result.files["agent.json"].decode()).parents
        nodes.add(result.node)
        executor.release(handle)
    assert nodes == workers(cluster)  # SPREAD: one on each worker, none on the CPU-less head
    assert executor.attempts(specs[0].repo_id) == []  # released: nothing left holding a CPU


def test_a_bead_whose_agent_fails_comes_back_failed_with_its_log(executor: RayExecutor, git_repo: Path) -> None:
    spec = make_spec(git_repo, "echo 'no luck' >&2; (exit 7)", bead_id="mr-f1", checks=["true"])
    handle = executor.submit(spec, remote.ship(git_repo, spec.base, spec.branch))
    poll = executor.wait(handle, 60)
    executor.release(handle)
    assert poll.result is not None and (poll.result.code, poll.result.checks, poll.result.head) == (7, [], spec.base)
    assert "no luck" in poll.result.log_tail and poll.result.files["exit_status"].strip() == b"7"


def test_a_cancelled_attempt_stops_its_agent_on_the_node(executor: RayExecutor, git_repo: Path) -> None:
    spec = make_spec(git_repo, "sleep 120", bead_id="mr-c1")
    handle = executor.submit(spec, remote.ship(git_repo, spec.base, spec.branch))
    started, _ = until_started(executor, handle)
    executor.cancel(handle, "cancelled")
    poll = executor.wait(handle, 30)
    executor.release(handle)
    assert poll.result is not None and poll.result.reason == "cancelled"
    assert not Path(f"/proc/{started['pid']}").exists() or zombie_or_gone(started["pid"])


def test_a_node_lost_mid_attempt_makes_the_attempt_lost(
    executor: RayExecutor, cluster: Any, ray_cluster: LocalCluster, git_repo: Path
) -> None:
    doomed = ray_cluster.add_worker(resources={"doomed": 1})
    spec = make_spec(git_repo, "sleep 60", bead_id="mr-d1")
    handle = executor.submit(spec, remote.ship(git_repo, spec.base, spec.branch), {"resources": {"doomed": 1}})
    started, _ = until_started(executor, handle)
    try:
        cluster.remove_node(doomed)
        begun = time.monotonic()
        poll = executor.wait(handle, 90)
        assert poll.lost and poll.result is None, poll
        assert time.monotonic() - begun < 60
    finally:  # on a real node the machine is gone; here the agent's own session outlives its raylet
        kill_group(started["pid"])
    assert executor.find(spec.repo_id, "mr-d1", 1) is None


DRIVER = """
import os, pickle, sys, time
from supervisor.run.ray_executor import RayExecutor
address, workdir, spec, bundle, wait_for = pickle.load(sys.stdin.buffer)
executor = RayExecutor(address, workdir=workdir, node_ip_address="127.0.0.1")
handle = executor.submit(spec, bundle)
while True:  # until the agent runs (or the attempt ended), then stand still for the kill -9
    poll = executor.poll(handle)
    if any(t == wait_for for _, t, _ in poll.events) or poll.result is not None:
        break
    time.sleep(0.1)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("phase", ["running", "finished"])
def test_a_supervisor_killed_and_restarted_finds_its_attempt(
    executor: RayExecutor, cluster: Any, git_repo: Path, phase: str
) -> None:
    bead_id = f"mr-k{phase[0]}"
    command = ("sleep 3; " if phase == "running" else "") + WRITE_AND_COMMIT
    spec = make_spec(git_repo, command, bead_id=bead_id)
    wait_for = "agent_started" if phase == "running" else "agent_exited"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert driver.stdin is not None and driver.stdout is not None
    driver.stdin.write(
        pickle.dumps((cluster.address, executor.workdir, spec, remote.ship(git_repo, spec.base, spec.branch), wait_for))
    )
    driver.stdin.close()
    assert driver.stdout.readline().strip() == b"ready"
    driver.send_signal(signal.SIGKILL)  # the supervisor, kill -9
    driver.wait()
    handle = executor.find(spec.repo_id, bead_id, 1)  # this test's driver is the restarted supervisor
    assert handle is not None
    poll = executor.wait(handle, 60)
    assert poll.result is not None and poll.result.code == 0, poll
    assert [t for _, t, _ in poll.events][:2] == ["agent_started", "agent_exited"]
    again = executor.wait(executor.submit(spec, b"not used"), 30)  # the same attempt again: the same actor, no new run
    assert again.result is not None and again.result.head == poll.result.head
    remote.receive(git_repo, poll.result, spec.branch)
    assert git(git_repo, "log", "--format=%s", f"main..{spec.branch}") == "node work"
    executor.release(handle)
    assert executor.find(spec.repo_id, bead_id, 1) is None
