"""The merge queue with batches, speculation and bisection (``queue = "auto"``), end to end.

Real git, ``mayor sling`` as the console script, agents and gates as bash scripts. The failure
rate the policy starts from is set by writing ``.mayor/state/queue-stats.json`` the way the queue
writes it, so a test chooses batches (a low rate) or single-bead candidates (a high one).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
from pathlib import Path

import pytest

from tests.sling_helpers import (
    add_bead,
    assert_target_green,
    bead,
    configure,
    events,
    first_parents,
    git,
    landing_commits,
    of,
    process_gone,
    script,
    sling,
    start_sling,
    top_level,
    wait_for,
)

WORK = """
mkdir -p work
echo "$MAYOR_BEAD_ID" > "work/$MAYOR_BEAD_ID.txt"
case " $BAD " in *" $MAYOR_BEAD_ID "*) echo broken > "work/BROKEN-$MAYOR_BEAD_ID";; esac
"""
GATE = "! ls work | grep -q BROKEN"


def setup(root: Path, tmp: Path, *, bad: str = "", rate: float, gates: int, gate: str = GATE, batch: int = 8) -> None:
    agent = script(tmp / "agent.sh", f'BAD="{bad}"\n' + WORK)
    configure(root, {"work": agent}, gate=gate)
    top_level(root, f'queue = "auto"\nmax_parallel_gates = {gates}\nmax_batch = {batch}\nmax_attempts = 1\n')
    misses = round(rate * 200)
    stats = root / ".mayor" / "state" / "queue-stats.json"
    stats.parent.mkdir(parents=True, exist_ok=True)
    stats.write_text(json.dumps({"recent": [1] * misses + [0] * (200 - misses)}))


def trailers(message: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("mayor-bead: ")]


def test_a_batch_with_a_culprit_is_bisected_and_the_innocent_land_uncharged(repo: Path, tmp_path: Path) -> None:
    ids = [f"b{i}" for i in range(1, 7)]
    hold, go_bad = tmp_path / "hold", tmp_path / "go-bad"
    hold.touch()
    gate = script(tmp_path / "gate.sh", f'while [ -e "{hold}" ]; do sleep 0.05; done\n{GATE}\n')
    setup(repo, tmp_path, bad="b4", rate=0.0, gates=1, gate=f"bash {gate}")
    wait_bad = f'[ "$MAYOR_BEAD_ID" != b4 ] || while [ ! -e "{go_bad}" ]; do sleep 0.05; done\n'
    script(tmp_path / "agent.sh", wait_bad + 'BAD="b4"\n' + WORK)
    for bead_id in ids:
        add_bead(repo, bead_id)
    base = git(repo, "rev-parse", "main")
    proc = start_sling(repo, "-j", "6")
    # the first bead to queue is gated alone (held); b4 and the rest queue behind it, then go as one batch
    wait_for(lambda: bool(of(events(repo), "gate_started")) or proc.poll() is not None, "the first gate")
    go_bad.touch()
    wait_for(lambda: len(of(events(repo), "queued")) == 6 or proc.poll() is not None, "every bead queued")
    hold.unlink()
    proc.communicate(timeout=90)
    assert proc.returncode == 1, proc.stderr  # b4 failed
    assert bead(repo, "b4").status == "failed"
    assert [a.outcome for a in bead(repo, "b4").attempts] == ["gate_failed"]
    for bead_id in set(ids) - {"b4"}:
        record = bead(repo, bead_id)
        assert record.status == "merged", bead_id
        assert [a.outcome for a in record.attempts] == ["passed"], f"{bead_id} was charged"
        assert len(landing_commits(repo, bead_id)) == 1
    log = events(repo)
    assert of(log, "bisected"), "a failed batch was not split"
    assert not landing_commits(repo, "b4")
    assert_target_green(repo, GATE, since=base)
    # a batch lands as one commit whose first parent is the old tip, with a trailer per bead
    batches = [c for c in first_parents(repo, since=base)[1:] if len(trailers(c[2])) > 1]
    for _sha, parents, message in batches:
        assert len(parents) == 1 + len(trailers(message)), "a batch commit's parents: the tip, then each branch"
        assert message.startswith(f"Merge {len(trailers(message))} beads: ")
    landed = [t for _, _, message in first_parents(repo, since=base)[1:] for t in trailers(message)]
    assert sorted(landed) == sorted(set(ids) - {"b4"})


def test_candidates_are_gated_at_once_each_built_on_the_one_before(repo: Path, tmp_path: Path) -> None:
    ids = ["s1", "s2", "s3"]
    running = tmp_path / "running"
    running.mkdir()
    go = tmp_path / "go"
    gate = script(
        tmp_path / "gate.sh",
        f"""
        touch "{running}/$MAYOR_CANDIDATE"
        while [ ! -e "{go}" ]; do sleep 0.05; done
        {GATE}
        """,
    )
    setup(repo, tmp_path, rate=0.0, gates=3, gate=f"bash {gate}", batch=1)
    for bead_id in ids:
        add_bead(repo, bead_id)
    base = git(repo, "rev-parse", "main")
    proc = start_sling(repo, "-j", "3")
    wait_for(lambda: len(list(running.iterdir())) >= 2 or proc.poll() is not None, "two gates running at once")
    assert proc.poll() is None, proc.communicate()
    go.touch()
    _out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    started = of(events(repo), "gate_started")
    # max_batch = 1: one bead per candidate, stacked: each later candidate holds the earlier ones
    commits = [e["data"]["candidate"] for e in started]
    for earlier, later in itertools.pairwise(commits):
        assert git(repo, "merge-base", "--is-ancestor", earlier, later) == ""
    assert [len(e["data"]["beads"]) for e in started] == [1, 1, 1]
    for bead_id in ids:
        assert len(landing_commits(repo, bead_id)) == 1
    assert len(first_parents(repo, since=base)) == 4, "one commit a bead, each gated as that exact tree"
    assert {e["data"]["candidate"] for e in started} == {sha for sha, _, _ in first_parents(repo, since=base)[1:]}


def test_a_failure_discards_the_candidates_built_on_it(repo: Path, tmp_path: Path) -> None:
    ids = ["f1", "f2", "f3"]
    setup(repo, tmp_path, bad="f1", rate=0.0, gates=3, batch=1)
    for bead_id in ids:
        add_bead(repo, bead_id)
    base = git(repo, "rev-parse", "main")
    proc = sling(repo, "-j", "3")
    assert proc.returncode == 1, proc.stderr
    assert bead(repo, "f1").status == "failed"
    for bead_id in ("f2", "f3"):
        assert bead(repo, bead_id).status == "merged"
        assert [a.outcome for a in bead(repo, bead_id).attempts] == ["passed"]
    assert_target_green(repo, GATE, since=base)


def test_a_dependent_is_speculated_on_top_of_its_dependency(repo: Path, tmp_path: Path) -> None:
    setup(repo, tmp_path, rate=0.0, gates=2)
    add_bead(repo, "d1")
    add_bead(repo, "d2", deps=["d1"])
    base = git(repo, "rev-parse", "main")
    proc = sling(repo, "-j", "2")
    assert proc.returncode == 0, proc.stderr
    order = [t for _, _, message in first_parents(repo, since=base)[1:] for t in trailers(message)]
    assert order == ["d1", "d2"]


def test_a_bead_that_conflicts_only_with_the_window_waits_for_it(repo: Path, tmp_path: Path) -> None:
    same = script(tmp_path / "same.sh", 'echo "$MAYOR_BEAD_ID" > shared.txt\n')
    configure(repo, {"same": same}, gate="true")
    top_level(repo, 'queue = "auto"\nmax_parallel_gates = 2\nmax_attempts = 1\n')
    add_bead(repo, "c1")
    add_bead(repo, "c2")
    proc = sling(repo, "-j", "2")
    assert proc.returncode == 1, proc.stderr
    log = events(repo)
    assert len(of(log, "gate_started")) == 1, "a candidate sure to conflict was built and gated"
    landed = [b for b in ("c1", "c2") if bead(repo, b).status == "merged"]
    assert len(landed) == 1
    loser = ({"c1", "c2"} - set(landed)).pop()
    assert [a.outcome for a in bead(repo, loser).attempts] == ["conflict"]
    merged_at = next(e["seq"] for e in of(log, "merged"))
    assert of(log, "conflict")[0]["seq"] > merged_at, "the conflict was charged before the other bead landed"


def test_the_measured_failure_rate_is_kept_across_runs(repo: Path, tmp_path: Path) -> None:
    setup(repo, tmp_path, bad="r2", rate=0.0, gates=2)
    (repo / ".mayor" / "state" / "queue-stats.json").unlink()
    for bead_id in ("r1", "r2", "r3"):
        add_bead(repo, bead_id)
    sling(repo, "-j", "3")
    recent = json.loads((repo / ".mayor" / "state" / "queue-stats.json").read_text())["recent"]
    assert sorted(recent) == [0, 0, 1]
    shapes = of(events(repo), "queue_shape")
    assert shapes and shapes[0]["data"]["p"] == pytest.approx(0.1)


def test_serial_gates_one_bead_at_a_time(repo: Path, tmp_path: Path) -> None:
    setup(repo, tmp_path, rate=0.0, gates=4)
    for bead_id in ("q1", "q2", "q3"):
        add_bead(repo, bead_id)
    proc = sling(repo, "-j", "3", "--queue", "serial")
    assert proc.returncode == 0, proc.stderr
    log = events(repo)
    assert [len(e["data"]["beads"]) for e in of(log, "gate_started")] == [1, 1, 1]
    assert [(e["data"]["batch"], e["data"]["depth"]) for e in of(log, "queue_shape")] == [(1, 1)]


def test_gates_a_killed_supervisor_left_running_are_stopped_and_every_bead_lands_once(
    repo: Path, tmp_path: Path
) -> None:
    pids, hold = tmp_path / "pids", tmp_path / "hold"
    pids.mkdir()
    hold.touch()
    gate = script(
        tmp_path / "gate.sh",
        f"""
        echo $$ > "{pids}/$$"
        while [ -e "{hold}" ]; do sleep 0.05; done
        {GATE}
        """,
    )
    setup(repo, tmp_path, rate=0.0, gates=3, gate=f"bash {gate}", batch=1)
    ids = ["k1", "k2", "k3"]
    for bead_id in ids:
        add_bead(repo, bead_id)
    base = git(repo, "rev-parse", "main")
    first = start_sling(repo, "-j", "3")
    records = repo / ".mayor" / "state" / "groups"
    wait_for(
        lambda: len(list(pids.iterdir())) >= 2 and len(list(records.glob("*.json"))) >= len(list(pids.iterdir())),
        "two gates running at once, each recorded by the supervisor",
    )
    orphans = [int(p.name) for p in pids.iterdir()]
    os.kill(first.pid, signal.SIGKILL)  # the supervisor only: its gates run on in their own sessions
    first.communicate(timeout=30)
    assert not any(process_gone(pid) for pid in orphans)
    for path in pids.iterdir():
        path.unlink()
    second = start_sling(repo, "-j", "3")
    wait_for(lambda: all(process_gone(pid) for pid in orphans), "the orphaned gates stopped")
    hold.unlink()
    second.communicate(timeout=90)
    assert second.returncode == 0
    for bead_id in ids:
        assert bead(repo, bead_id).status == "merged"
        assert len(landing_commits(repo, bead_id)) == 1
    assert_target_green(repo, GATE, since=base)
    stopped = [e for e in of(events(repo), "recovered") if "left by a killed supervisor" in e["data"]["what"]]
    assert len(stopped) >= 2
