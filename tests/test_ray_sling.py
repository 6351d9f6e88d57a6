"""``mayor sling --executor ray`` end to end on a real local Ray cluster (a head with no CPUs and two
workers, all on 127.0.0.1: the session's, see tests/ray_helpers.py).

``mayor sling`` runs as the installed console script; agents are bash scripts; beads land through
the real merge queue. Skipped without Ray (failed under ``CI=true``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.ray_helpers import RUN_S, require_ray, workers
from tests.sling_helpers import (
    add_bead,
    bead,
    configure,
    events,
    git,
    landing_commits,
    of,
    process_gone,
    script,
    sling,
    start_sling,
    wait_for,
)

AGENT = """
if [ "$MAYOR_BEAD_ID" = mr-bad ]; then echo "this one always fails" >&2; exit 3; fi
sleep {sleep}
printf '%s\\n%s\\n' "$MAYOR_NODE" "$PWD" > "node-$MAYOR_BEAD_ID.txt"
git add -A
git commit -qm "work on $MAYOR_BEAD_ID"
"""


def agent(tmp_path: Path, sleep: float = 0) -> Path:
    return script(tmp_path / "agent.sh", AGENT.format(sleep=sleep))


def ray_repo(root: Path, tmp_path: Path, cluster: Any, *, max_attempts: int = 3, sleep: float = 0) -> Path:
    """``root`` set up for ``--executor ray`` through its config (the flags are tested apart)."""
    configure(root, {"script": agent(tmp_path, sleep)})
    return use_ray(root, cluster, max_attempts)


def use_ray(root: Path, cluster: Any, max_attempts: int = 3) -> Path:
    """``root``'s config (as ``configure`` wrote it) set to run on ``cluster``, ``max_attempts`` each."""
    config = root / ".mayor" / "config.toml"
    lines = config.read_text().replace('target = "main"', f'target = "main"\nmax_attempts = {max_attempts}')
    config.write_text(lines.replace("slots = 2", f'slots = 2\nexecutor = "ray"\nray_address = "{cluster.address}"'))
    return root


def nodes_of(root: Path, bead_id: str) -> tuple[str, str]:
    """The ``MAYOR_NODE`` and working folder the bead's agent wrote, as landed on main."""
    node, cwd = git(root, "show", f"main:node-{bead_id}.txt").splitlines()
    return node, cwd


def test_sling_on_ray_lands_every_bead_once_through_both_workers(
    cluster: Any, mayor_repo: Path, tmp_path: Path
) -> None:
    configure(mayor_repo, {"script": agent(tmp_path)})
    ids = [f"mr-r{i}" for i in range(4)]
    for bead_id in ids:
        add_bead(mayor_repo, bead_id)
    out = sling(mayor_repo, "-q", "-j", "4", "--executor", "ray", "--ray-address", cluster.address, timeout=RUN_S)
    assert out.returncode == 0, out.stderr
    log = events(mayor_repo)
    seen = set()
    for bead_id in ids:
        assert bead(mayor_repo, bead_id).status == "merged"
        assert len(landing_commits(mayor_repo, bead_id)) == 1
        node, cwd = nodes_of(mayor_repo, bead_id)
        assert mayor_repo.resolve() not in Path(cwd).resolve().parents and Path(cwd) != mayor_repo
        seen.add(node)
        started = of(log, "agent_started", bead_id)
        assert [(e["data"]["node"], e["data"]["node_seq"]) for e in started] == [(node, 0)]
        assert of(log, "slung", bead_id)[0]["data"]["executor"] == "ray"
    assert seen == workers(cluster)  # attempts spread over both workers, none on the CPU-less head
    assert (mayor_repo / ".mayor" / "runs" / ids[0] / "1" / "agent.log").exists()  # written back


def test_a_failing_agent_on_ray_is_retried_then_failed_as_locally(
    cluster: Any, mayor_repo: Path, tmp_path: Path
) -> None:
    ray_repo(mayor_repo, tmp_path, cluster, max_attempts=2)
    add_bead(mayor_repo, "mr-bad")
    add_bead(mayor_repo, "mr-good")
    out = sling(mayor_repo, "-q", timeout=RUN_S)
    assert out.returncode != 0
    bad = bead(mayor_repo, "mr-bad")
    assert bad.status == "failed"
    assert [(a.n, a.outcome) for a in bad.attempts] == [(1, "failed"), (2, "failed")]
    log = events(mayor_repo)
    assert [e["type"] for e in log if e["bead"] == "mr-bad" and e["type"] in ("retried", "failed")] == [
        "retried",
        "failed",
    ]
    assert "this one always fails" in (mayor_repo / ".mayor" / "runs" / "mr-bad" / "2" / "feedback_out.md").read_text()
    assert bead(mayor_repo, "mr-good").status == "merged"
    assert len(landing_commits(mayor_repo, "mr-good")) == 1


def test_a_supervisor_killed_mid_run_and_restarted_lands_each_bead_once(
    cluster: Any, mayor_repo: Path, tmp_path: Path
) -> None:
    ray_repo(mayor_repo, tmp_path, cluster, sleep=6)
    ids = [f"mr-k{i}" for i in range(3)]
    for bead_id in ids:
        add_bead(mayor_repo, bead_id)
    first = start_sling(mayor_repo, "-q", "-j", "3")
    try:
        wait_for(lambda: len(of(events(mayor_repo), "agent_started")) >= 2, "agents started on the nodes", RUN_S)
    finally:
        first.send_signal(signal.SIGKILL)  # kill -9 of the supervisor, mid-run
        first.communicate()
    out = sling(mayor_repo, "-q", "-j", "3", timeout=RUN_S)
    assert out.returncode == 0, out.stderr
    log = events(mayor_repo)
    for bead_id in ids:
        assert bead(mayor_repo, bead_id).status == "merged"
        assert len(landing_commits(mayor_repo, bead_id)) == 1
        for type_ in ("agent_started", "agent_exited"):  # node events forwarded once, whoever forwarded them
            per_attempt = [(e["attempt"], e["data"]["node_seq"]) for e in of(log, type_, bead_id)]
            assert len(per_attempt) == len(set(per_attempt)), (bead_id, type_, per_attempt)
    resumed = [e for e in of(log, "recovered") if e["data"]["what"] == "found its attempt on the cluster again"]
    assert resumed, "no attempt was taken back from the cluster"
    taken_back = {e["bead"] for e in resumed}
    for bead_id in taken_back:
        assert [a.outcome for a in bead(mayor_repo, bead_id).attempts] == ["passed"]  # not run a second time


NO_RAY = "import sys; sys.modules['ray'] = None; from supervisor.cli import main; sys.argv[0] = 'mayor'; main()"
"""``mayor`` as if Ray were not installed (``find_spec`` answers None for a module set to None)."""


def test_executor_ray_without_ray_says_what_to_install_before_any_attempt(mayor_repo: Path, tmp_path: Path) -> None:
    configure(mayor_repo, {"script": agent(tmp_path)})
    add_bead(mayor_repo, "mr-n1")
    out = subprocess.run(
        [sys.executable, "-c", NO_RAY, "sling", "-q", "--executor", "ray"],
        cwd=mayor_repo,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 1, out.stderr
    assert "pip install 'mayor[ray]'" in out.stderr
    assert bead(mayor_repo, "mr-n1").status == "open" and of(events(mayor_repo), "slung") == []


def test_an_unknown_executor_is_refused(mayor_repo: Path, tmp_path: Path) -> None:
    configure(mayor_repo, {"script": agent(tmp_path)})
    out = sling(mayor_repo, "-q", "--executor", "kubernetes")
    assert out.returncode == 2 and "is not one of local, ray" in out.stderr  # a usage error
    config = mayor_repo / ".mayor" / "config.toml"
    config.write_text('executor = "kubernetes"\n' + config.read_text())
    from_config = sling(mayor_repo, "-q")
    assert from_config.returncode == 1 and "executor" in from_config.stderr


def test_stopping_the_supervisor_stops_the_agents_on_the_nodes(cluster: Any, mayor_repo: Path, tmp_path: Path) -> None:
    ray_repo(mayor_repo, tmp_path, cluster, sleep=60)
    add_bead(mayor_repo, "mr-s1")
    run = start_sling(mayor_repo, "-q")
    try:
        wait_for(lambda: of(events(mayor_repo), "agent_started", "mr-s1"), "the agent started on its node", RUN_S)
    finally:
        run.send_signal(signal.SIGTERM)  # as Ctrl-C
        run.communicate(timeout=RUN_S)
    assert run.returncode == 130
    pid = of(events(mayor_repo), "agent_started", "mr-s1")[0]["data"]["pid"]
    assert process_gone(pid)  # the node killed its agent (the node is this machine here)
    stopped = bead(mayor_repo, "mr-s1")
    assert stopped.status == "open" and [a.outcome for a in stopped.attempts] == ["interrupted"]
    assert of(events(mayor_repo), "agent_exited", "mr-s1")[0]["data"]["reason"] == "interrupted"


def test_a_head_nobody_answers_at_is_said_at_once(mayor_repo: Path, tmp_path: Path) -> None:
    require_ray()
    configure(mayor_repo, {"script": agent(tmp_path)})
    add_bead(mayor_repo, "mr-u1")
    out = sling(mayor_repo, "-q", "--executor", "ray", "--ray-address", "127.0.0.1:1", timeout=60)
    assert out.returncode == 1 and "nothing answers at 127.0.0.1:1" in out.stderr, out.stderr
    assert bead(mayor_repo, "mr-u1").status == "open"
