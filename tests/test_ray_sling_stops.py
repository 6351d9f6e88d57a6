"""Attempts stopped on a node under the real ``mayor sling --executor ray``: ``mayor cancel``, the
run's budget, and a worker node lost mid-attempt. The session's local cluster (a head with no CPUs
and two one-CPU workers on 127.0.0.1, tests/ray_helpers.py); agents are bash scripts.

The nodes run on this machine, so a test can see an agent's process end (the pid its
``agent_started`` event names) and agents can wait for a file the test writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ray_helpers import RUN_S, LocalCluster, kill_group, node_of, workers
from tests.sling_helpers import (
    add_bead,
    bead,
    configure,
    events,
    git,
    landing_commits,
    mayor,
    of,
    process_gone,
    script,
    start_sling,
    wait_for,
)
from tests.test_ray_sling import use_ray


def finish(run: Any) -> tuple[str, str]:
    """The sling's stdout and stderr once it ends (killed if it outlives :data:`RUN_S`)."""
    try:
        out: tuple[str, str] = run.communicate(timeout=RUN_S)
        return out
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()


def started(root: Path, bead_id: str, n: int = 1) -> dict[str, Any]:
    """The ``agent_started`` data of the bead's attempt ``n`` (forwarded from its node), once there."""
    found: list[dict[str, Any]] = []

    def look() -> bool:
        found[:] = [e["data"] for e in of(events(root), "agent_started", bead_id) if e["attempt"] == n]
        return bool(found)

    wait_for(look, f"{bead_id}'s attempt {n} to start on a node", RUN_S)
    return found[0]


def test_cancel_stops_the_attempt_on_its_node_and_lands_nothing(cluster: Any, mayor_repo: Path, tmp_path: Path) -> None:
    slow = script(
        tmp_path / "slow.sh",
        """
        echo partial > partial.txt
        git add partial.txt
        git commit -qm "partial work on $MAYOR_BEAD_ID"
        sleep 120
        """,
    )
    configure(mayor_repo, {"slow": slow})
    use_ray(mayor_repo, cluster)
    add_bead(mayor_repo, "mr-c1")
    base = git(mayor_repo, "rev-parse", "main")
    run = start_sling(mayor_repo, "-q")
    try:
        data = started(mayor_repo, "mr-c1")
        assert data["node"] in workers(cluster)
        cancelled = mayor(mayor_repo, "cancel", "mr-c1")
        assert cancelled.returncode == 0, cancelled.stderr
        wait_for(lambda: process_gone(data["pid"]), "the agent to stop on its node", RUN_S)
    finally:
        _, err = finish(run)
    assert run.returncode == 0, err  # a cancelled bead is neither failed nor waiting, as locally
    done = bead(mayor_repo, "mr-c1")
    assert done.status == "cancelled" and [a.outcome for a in done.attempts] == ["cancelled"]
    log = events(mayor_repo)
    assert len(of(log, "cancelled", "mr-c1")) == 1
    assert [e["data"]["reason"] for e in of(log, "agent_exited", "mr-c1")] == ["cancelled"]  # from the node
    assert not of(log, "queued", "mr-c1") and not of(log, "merged", "mr-c1")
    assert git(mayor_repo, "rev-parse", "main") == base


SPENDER = """
while [ ! -e {go} ]; do sleep 0.1; done
usage='{{"input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.4}}'
echo "$usage" > "$MAYOR_RUN_DIR/usage.json"
echo "{{\\"usage\\": $usage}}" > "$MAYOR_RUN_DIR/result.json"
sleep 120
"""
"""Waits for the test's go, reports $0.40 live (``usage.json``) and as its result, then works on."""


def test_the_budget_stops_the_attempts_on_the_nodes_and_the_run_as_locally(
    cluster: Any, mayor_repo: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    configure(mayor_repo, {"spender": script(tmp_path / "spender.sh", SPENDER.format(go=go))})
    use_ray(mayor_repo, cluster, max_attempts=1)
    for bead_id in ("mr-b1", "mr-b2", "mr-b3"):
        add_bead(mayor_repo, bead_id)
    run = start_sling(mayor_repo, "-q", "-j", "2", "--budget-usd", "0.5")
    try:
        agents = {bead_id: started(mayor_repo, bead_id) for bead_id in ("mr-b1", "mr-b2")}
        assert {a["node"] for a in agents.values()} == workers(cluster)  # one on each worker
        go.touch()  # each spends $0.40: only both together pass the $0.50
        for data in agents.values():
            wait_for(lambda data=data: process_gone(data["pid"]), "the budget to stop the agent on its node", RUN_S)
    finally:
        go.touch()
        _, err = finish(run)
    assert run.returncode == 1, err
    assert "the budget stopped this run" in err and "failed:" not in err
    log = events(mayor_repo)
    assert len(of(log, "budget_stopped")) == 1
    for bead_id in ("mr-b1", "mr-b2"):
        stopped = bead(mayor_repo, bead_id)
        assert stopped.status == "open" and [a.outcome for a in stopped.attempts] == ["interrupted"]  # not counted
        assert stopped.usage.cost_usd == 0.4  # what it spent is booked, as locally
        assert [e["data"]["reason"] for e in of(log, "agent_exited", bead_id)] == ["budget"]
    assert bead(mayor_repo, "mr-b3").attempts == []  # nothing slung after the budget was spent
    assert not of(log, "merged")


def test_a_worker_lost_mid_attempt_interrupts_it_and_the_bead_lands_once_from_another(
    cluster: Any, ray_cluster: LocalCluster, mayor_repo: Path, tmp_path: Path
) -> None:
    worker = script(
        tmp_path / "worker.sh",
        """
        if [ "$MAYOR_ATTEMPT" = 1 ]; then sleep 120; fi
        echo "$MAYOR_NODE" > node.txt
        git add node.txt
        git commit -qm "work on $MAYOR_BEAD_ID"
        """,
    )
    configure(mayor_repo, {"worker": worker})
    use_ray(mayor_repo, cluster, max_attempts=1)  # the lost attempt must not count, or no retry is left
    add_bead(mayor_repo, "mr-l1")
    run = start_sling(mayor_repo, "-q", "-j", "1")
    try:
        first = started(mayor_repo, "mr-l1")
        cluster.remove_node(node_of(cluster, first["node"]), allow_graceful=False)  # its raylet and workers, kill -9
        kill_group(first["pid"])  # and the agent: on a real cluster the machine is gone
    finally:
        _, err = finish(run)
    assert run.returncode == 0, err
    landed = bead(mayor_repo, "mr-l1")
    assert landed.status == "merged" and [a.outcome for a in landed.attempts] == ["interrupted", "passed"]
    assert len(landing_commits(mayor_repo, "mr-l1")) == 1
    second = started(mayor_repo, "mr-l1", 2)
    assert second["node"] != first["node"] and second["node"] in workers(ray_cluster.cluster)
    assert git(mayor_repo, "show", "main:node.txt") == second["node"]
    log = events(mayor_repo)
    lost = [e["data"] for e in of(log, "agent_exited", "mr-l1") if e["attempt"] == 1]
    assert [d["reason"] for d in lost] == ["lost"], lost
    assert not [e for e in of(log, "usage", "mr-l1") if e["attempt"] == 1]  # nothing booked for the lost one


def test_mayor_retry_stops_the_attempt_on_its_node_and_the_next_one_gets_the_note(
    cluster: Any, mayor_repo: Path, tmp_path: Path
) -> None:
    slow = script(
        tmp_path / "slow.sh",
        """
        if [ "$MAYOR_ATTEMPT" = 1 ]; then sleep 120; fi
        cp "$MAYOR_FEEDBACK_FILE" got-feedback.txt && git add -A && git commit -qm "with the note"
        """,
    )
    configure(mayor_repo, {"slow": slow})
    use_ray(mayor_repo, cluster, max_attempts=1)  # a retry asked for is not counted
    add_bead(mayor_repo, "mr-r1")
    run = start_sling(mayor_repo, "-q")
    try:
        first = started(mayor_repo, "mr-r1")
        said = mayor(mayor_repo, "retry", "mr-r1", "--note", "use the other approach")
        assert said.returncode == 0, said.stderr
        wait_for(lambda: process_gone(first["pid"]), "the first agent to stop on its node", RUN_S)
    finally:
        _, err = finish(run)
    assert run.returncode == 0, err
    retried = bead(mayor_repo, "mr-r1")
    assert retried.status == "merged" and [a.outcome for a in retried.attempts] == ["retry_requested", "passed"]
    assert "use the other approach" in git(mayor_repo, "show", "main:got-feedback.txt")
    assert [e["data"]["reason"] for e in of(events(mayor_repo), "agent_exited", "mr-r1")] == ["retry", "exited"]
